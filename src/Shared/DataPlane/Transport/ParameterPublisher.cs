using static TorchSharp.torch;

namespace VaeCluster.DataPlane;

/// <summary>
/// The shared-memory region that co-located worker nodes compute from: the link that sends a step's first shard
/// copies the parameters in, once per step, however many nodes read them.
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
