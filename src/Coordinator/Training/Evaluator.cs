using VaeCluster.Model;
using VaeCluster.Training;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Training;

/// <summary>
/// Test-set loss in nats per image, computed as the PyTorch reference does (with sampled z). The noise comes
/// from a fixed seed so that epochs, and runs with different worker counts, are compared on the same draw.
/// </summary>
public static class Evaluator
{
    private const int Chunk = 1000;

    public static double TestLoss(Vae model, Tensor images, long seed)
    {
        using var _ = no_grad();
        using var generator = new Generator(EpochOrder.Mix((ulong)seed ^ 0x7E57UL));
        long count = images.shape[0];
        double total = 0;
        for (long start = 0; start < count; start += Chunk)
        {
            using var scope = NewDisposeScope();
            var x = images.narrow(0, start, Math.Min(Chunk, count - start));
            var eps = randn(new long[] { x.shape[0], model.Shape.Latent }, generator: generator);
            var (reconstruction, mu, logVar) = model.forward(x, eps);
            total += VaeLoss.Compute(reconstruction, x, mu, logVar).Total.item<float>();
        }
        return total / count;
    }
}
