namespace VaeCluster.Cluster;

/// <summary>How a worker's tensors travel to and from the coordinator (--transport).</summary>
public enum DataTransport
{
    /// <summary>Shared memory when the worker can open the coordinator's regions (the same machine), else TCP.</summary>
    Auto,

    /// <summary>Always the data-plane socket, even on the coordinator's machine: one host exercises the network path.</summary>
    Tcp,
}
