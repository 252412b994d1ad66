using VaeCluster.Data;
using VaeCluster.Model;
using VaeCluster.Training;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Training;

/// <summary>
/// Test-set losses in nats per image, computed as the PyTorch reference does (with sampled z). The noise comes
/// from a fixed seed so that epochs, and runs with different worker counts, are compared on the same draw.
/// </summary>
public static class Evaluator
{
    private const int Chunk = 1000;

    /// <summary>The training objective on the test set (the mixture model's uses the labels).</summary>
    public static double TestLoss(IVae model, MnistSplit test, long seed) =>
        Average(model, test, seed, (x, labels, eps) => model.Loss(x, labels, eps).Total);

    /// <summary>-ELBO of log p(x) without labels: the figure that compares the reference VAE and the mixture model.</summary>
    public static double TestUnconditionalLoss(IVae model, MnistSplit test, long seed) =>
        Average(model, test, seed, (x, _, eps) => model.UnconditionalLoss(x, eps));

    private static double Average(IVae model, MnistSplit test, long seed, Func<Tensor, Tensor, Tensor, Tensor> lossSum)
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
            total += lossSum(x, labels, eps).item<float>();
        }
        return total / count;
    }
}
