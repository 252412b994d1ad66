using VaeCluster.Data;
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

    public static double TestLoss(IVae model, MnistSplit test, long seed)
    {
        using var _ = no_grad();
        using var generator = new Generator(EpochOrder.Mix((ulong)seed ^ 0x7E57UL));
        var images = test.Images;
        long count = images.shape[0];
        double total = 0;
        for (long start = 0; start < count; start += Chunk)
        {
            using var scope = NewDisposeScope();
            var x = images.narrow(0, start, Math.Min(Chunk, count - start));
            var eps = randn(new long[] { x.shape[0], model.Shape.Latent }, generator: generator);
            var labels = LabelTensor.Of(test.Labels, start, x.shape[0]);
            total += model.Loss(x, labels, eps).Total.item<float>();
        }
        return total / count;
    }
}
