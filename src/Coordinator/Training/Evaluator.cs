using VaeCluster.Data;
using VaeCluster.Model;
using VaeCluster.Training;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Training;

/// <summary>
/// Test-set losses in nats per image, computed as the PyTorch reference does: sampled z, chunks of 1000. During
/// training the noise comes from the run's stream, as the reference's does; afterwards (<c>vae evaluate</c>) from
/// a fixed seed, so that repeated evaluations of one model agree.
/// </summary>
public static class Evaluator
{
    private const int Chunk = 1000;

    /// <summary>
    /// The noise for <see cref="TestLoss(IVae, MnistSplit, IReadOnlyList{Tensor})"/>, one tensor per chunk, drawn from
    /// the run's stream in the reference's order. Drawn apart from the evaluation so that the stream, part of the
    /// training state, is only ever advanced on the coordinator's thread.
    /// </summary>
    public static IReadOnlyList<Tensor> DrawTestNoise(RunRandomness stream, long testCount, int latent)
    {
        var chunks = new List<Tensor>();
        for (long start = 0; start < testCount; start += Chunk) chunks.Add(stream.DrawNoise(Math.Min(Chunk, testCount - start), latent));
        return chunks;
    }

    /// <summary>The training objective on the test set at an epoch's end, with noise drawn by <see cref="DrawTestNoise"/>.</summary>
    public static double TestLoss(IVae model, MnistSplit test, IReadOnlyList<Tensor> noise)
    {
        int chunk = 0;
        return Average(model, test, (_, _) => noise[chunk++].alias(), (x, labels, eps) => model.Loss(x, labels, eps).Total);
    }

    /// <summary>The training objective on the test set (the mixture model's uses the labels).</summary>
    public static double TestLoss(IVae model, MnistSplit test, long seed)
    {
        using var generator = FixedNoise(seed);
        return Average(model, test, Draw(generator), (x, labels, eps) => model.Loss(x, labels, eps).Total);
    }

    /// <summary>-ELBO of log p(x) without labels: the figure that compares the reference VAE and the mixture model.</summary>
    public static double TestUnconditionalLoss(IVae model, MnistSplit test, long seed)
    {
        using var generator = FixedNoise(seed);
        return Average(model, test, Draw(generator), (x, _, eps) => model.UnconditionalLoss(x, eps));
    }

    private static Generator FixedNoise(long seed) => new(EpochOrder.Mix((ulong)seed ^ 0x7E57UL));

    private static Func<long, int, Tensor> Draw(Generator generator) =>
        (rows, latent) => randn(new[] { rows, (long)latent }, generator: generator);

    private static double Average(
        IVae model, MnistSplit test, Func<long, int, Tensor> drawNoise, Func<Tensor, Tensor, Tensor, Tensor> lossSum)
    {
        using var _ = no_grad();
        var images = test.Images;
        long count = images.shape[0];
        double total = 0;
        for (long start = 0; start < count; start += Chunk)
        {
            using var scope = NewDisposeScope();
            var x = images.narrow(0, start, Math.Min(Chunk, count - start));
            var eps = drawNoise(x.shape[0], model.Shape.Latent);
            var labels = LabelTensor.Of(test.Labels, start, x.shape[0]);
            total += lossSum(x, labels, eps).item<float>();
        }
        return total / count;
    }
}
