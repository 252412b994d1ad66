using VaeCluster.DataPlane;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Cluster;

/// <summary>
/// The shared-memory region that co-located workers read the parameters from: written once per step, by
/// whichever link sends that step's first shard, however many workers read it.
/// </summary>
public sealed class ParameterPublisher(SharedTensorRegion region) : IDisposable
{
    private readonly Lock gate = new();
    private long publishedStep = -1;

    public string Path => region.Path;

    /// <summary>Makes the region hold the parameters of <paramref name="step"/> (the coordinator does not change them mid-step).</summary>
    public void Publish(long step, IReadOnlyList<Tensor> parameters)
    {
        lock (gate)
        {
            if (publishedStep == step) return;
            region.Write(parameters);
            publishedStep = step;
        }
    }

    public void Dispose() => region.Dispose();
}
