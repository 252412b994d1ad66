namespace VaeCluster.DataPlane;

/// <summary>A frame broke the wire format or the protocol; the connection it came on is closed.</summary>
public sealed class WireError(string message) : Exception(message);
