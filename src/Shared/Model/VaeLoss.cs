using static TorchSharp.torch;

namespace VaeCluster.Model;

/// <summary>
/// The ELBO's negative, summed over the batch: BCE reconstruction + KL(q(z|x) || N(0, I)).
/// Summed rather than averaged so that shard losses (and their gradients) add up to the global batch's.
/// </summary>
public static class VaeLoss
{
    public static (Tensor Total, Tensor Bce, Tensor Kl) Compute(Tensor reconstruction, Tensor x, Tensor mu, Tensor logVar)
    {
        var bce = nn.functional.binary_cross_entropy(reconstruction, x, reduction: nn.Reduction.Sum);
        // KL = -0.5 * sum(1 + logvar - mu^2 - exp(logvar))
        using var inner = 1 + logVar - mu.pow(2) - logVar.exp();
        var kl = -0.5 * inner.sum();
        return (bce + kl, bce, kl);
    }

    /// <summary>
    /// <see cref="Compute"/>'s total as a number, for a training step that needs no graph: the same formula,
    /// -sum(x max(log r, -100) + (1 - x) max(log(1 - r), -100)) + KL, in vectorised passes. libtorch's BCE kernel
    /// takes a scalar log and log1p per pixel, a tenth of a worker's step (a profile, issue 17); the vectorised logs
    /// differ from those in the last bit, so the sum agrees to about 1e-7 relatively.
    /// </summary>
    public static float Value(Tensor reconstruction, Tensor x, Tensor mu, Tensor logVar)
    {
        using var _ = NewDisposeScope();
        var logR = reconstruction.log().clamp_min_(-100);
        var logNotR = (-reconstruction).log1p_().clamp_min_(-100);
        var bce = (x - 1).mul_(logNotR).sub_(x * logR).sum();
        var kl = -0.5 * (1 + logVar - mu.pow(2) - logVar.exp()).sum();
        return (bce + kl).item<float>();
    }
}
