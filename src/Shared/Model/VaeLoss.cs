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
}
