using VaeCluster.Coordinator.Training;
using VaeCluster.DataPlane;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Cluster;

/// <summary>
/// The shared-memory region that co-located workers compute from. Adam writes each update into it as it goes
/// (<see cref="IParameterMirror"/>); when it has not (the first step, after a resume), the link that sends a
/// step's first shard copies the parameters in, once, however many workers read them.
/// </summary>
public sealed class ParameterPublisher : IParameterMirror, IDisposable
{
    private readonly SharedTensorRegion region;
    private readonly long[] offsets;
    private readonly Lock gate = new();
    private long publishedStep = -1;

    public ParameterPublisher(SharedTensorRegion region, IReadOnlyList<TensorLayout> layout)
    {
        this.region = region;
        offsets = new long[layout.Count];
        for (int i = 1; i < layout.Count; i++) offsets[i] = offsets[i - 1] + layout[i - 1].Elements;
    }

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

    public Span<float> Chunk(int tensorIndex, int start, int length) => region.Floats(offsets[tensorIndex] + start, length);

    public void Holds(long step)
    {
        lock (gate) publishedStep = step;
    }

    public void Dispose() => region.Dispose();
}
