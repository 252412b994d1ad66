using VaeCluster.Model;
using VaeCluster.Training;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Run;

/// <summary>New digits drawn from a model; <see cref="Labels"/> are the digits asked for (null for the reference VAE).</summary>
public sealed record DrawnDigits(float[] Pixels, byte[]? Labels, int Count);

/// <summary>
/// Draws digits from a trained model, reproducibly from a seed. One routine serves generate, evaluate and the
/// run's samples.png, so `./vae generate --seed S` shows exactly the digits that `./vae evaluate --seed S` scores.
/// </summary>
public static class DigitSampler
{
    /// <summary>
    /// <paramref name="count"/> digits spread evenly over <paramref name="digits"/> in the order given: each gets
    /// count / k, and the first count % k digits one more. Without digits, the reference VAE decodes z ~ N(0, I) and the
    /// mixture model draws each digit uniformly, then z from p(z | digit): a draw from the whole mixture.
    /// </summary>
    public static DrawnDigits Draw(IVae model, IReadOnlyList<int>? digits, int count, long seed)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        using var generator = new Generator(EpochOrder.Mix((ulong)seed));
        var eps = randn(new long[] { count, model.Shape.Latent }, generator: generator);
        byte[]? labels = digits is { Count: > 0 } ? Spread(digits, count)
            : model.Shape.Kind == ModelKind.Vae ? null
            : randint(0, MixtureVae.Components, new long[] { count }, generator: generator).data<long>().ToArray().Select(d => (byte)d).ToArray();
        var images = model.Generate(eps, labels is null ? null : tensor(labels.Select(d => (long)d).ToArray()), generator);
        return new DrawnDigits(images.data<float>().ToArray(), labels, count);
    }

    /// <summary>The label of each of <paramref name="count"/> images, grouped by digit in the order asked.</summary>
    public static byte[] Spread(IReadOnlyList<int> digits, int count)
    {
        int k = digits.Count;
        return digits.SelectMany((d, i) => Enumerable.Repeat((byte)d, count / k + (i < count % k ? 1 : 0))).ToArray();
    }
}
