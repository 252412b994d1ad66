using static TorchSharp.torch;

namespace VaeCluster.Training;

/// <summary>
/// The reparameterisation noise of one global batch, drawn by the coordinator from (seed, step) and sliced per
/// shard. Because the noise does not depend on how the batch is sharded, N workers compute exactly the update
/// that one process would, and a resumed run draws the same noise it would have drawn.
/// </summary>
public static class StepNoise
{
    public static Tensor ForStep(long seed, long globalStep, int batch, int latent)
    {
        using var generator = new Generator(EpochOrder.Mix((ulong)seed * 31 + (ulong)globalStep));
        return randn(new long[] { batch, latent }, generator: generator);
    }
}
