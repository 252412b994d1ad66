using static TorchSharp.torch;

namespace VaeCluster.Model;

/// <summary>
/// The mixture model's losses, summed over the batch (so shard sums add up to the batch's), from log p(z | y) at the
/// sampled z (<see cref="MixturePrior.DigitLogDensities"/>) and p(y) = 1/10. Training, per image with label y:
/// BCE + beta * [E_q log q(z|x) - log p(z|y)] + ln 10 + (w - 1) * (-log p(y|z)). With w = beta = 1 this is the
/// negative ELBO of log p(x, y), which is the negative ELBO of log p(x) plus E_q[-log p(y|z)]; w > 1 weighs that
/// latent classification part more, which keeps the digits' codes apart; beta < 1 keeps more of each image in its
/// code (docs/MIXTURE_MODEL.md).
/// </summary>
public static class MixtureLoss
{
    public static readonly double LabelPriorNats = Math.Log(MixturePrior.Digits);

    /// <param name="digitLogDensities">log p(z|y) at the sampled z for every digit, [n, 10]</param>
    public static (Tensor Total, Tensor Bce, Tensor Kl) Compute(
        Tensor reconstruction, Tensor x, Tensor logVar, Tensor labels, Tensor digitLogDensities, double classWeight, double klWeight)
    {
        using var scope = NewDisposeScope();
        var bce = nn.functional.binary_cross_entropy(reconstruction, x, reduction: nn.Reduction.Sum);
        var own = digitLogDensities.gather(1, labels.unsqueeze(1)).squeeze(1);
        // KL(q(z|x) || p(z|y)) has no closed form for a mixture: E_q log q = -0.5 * sum(1 + lv) exactly (the ln(2 pi)
        // terms cancel with p's), log p(z|y) at the sampled z.
        var kl = (-0.5 * (1 + logVar).sum(1) - own).sum();
        var total = bce + klWeight * kl + LabelPriorNats * x.shape[0];
        if (classWeight != 1)
        {
            // -log p(y|z) = logsumexp_k log p(z|k) - log p(z|y); the uniform p(y) cancels.
            var classification = (digitLogDensities.logsumexp(1) - own).sum();
            total = total + (classWeight - 1) * classification;
        }
        return (total.MoveToOuterDisposeScope(), bce.MoveToOuterDisposeScope(), kl.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// One-sample estimate of KL(q(z|x) || p(z)) with p the whole mixture, summed over the batch: log q(z|x) - log p(z)
    /// at z = mu + sigma * eps. The KL to a mixture has no closed form; this needs no labels, so BCE + it bounds -log p(x).
    /// </summary>
    public static Tensor KlToMixtureEstimate(Tensor eps, Tensor logVar, Tensor digitLogDensities)
    {
        using var scope = NewDisposeScope();
        // The -0.5 * ln(2 pi) per dimension appears in both densities and cancels.
        var logQ = -0.5 * (logVar + eps.pow(2)).sum(1);
        var logP = digitLogDensities.logsumexp(1) - LabelPriorNats;
        return (logQ - logP).sum().MoveToOuterDisposeScope();
    }
}
