using VaeCluster.DataPlane;

namespace VaeCluster.Coordinator.Cluster;

/// <summary>A data-plane connection whose Hello frame has been read; the gateway admits or refuses it.</summary>
public sealed record DataPlaneConnected(FrameChannel Channel, HelloFrame Hello, byte[] Nonce);

/// <summary>Training is over: every worker link says Bye to its worker, which then exits.</summary>
public sealed record SayGoodbye(string Reason);
