using static TorchSharp.torch;

namespace VaeCluster.Model;

/// <summary>
/// The mixture model's losses, summed over the batch (so shard sums add up to the batch's). With component y of
/// the image's label, N(m_y, diag(exp(v_y))), and p(y) = 1/10:
/// training: BCE + KL(q(z|x) || N(m_y, exp(v_y))) + ln 10 + (w - 1) * (-log p(y|z)), where the first three terms
/// are the negative ELBO of log p(x, y) (w = 1) and the last adds weight to the latent classification part of it
/// (log p(x, y) bound = log p(x) bound + E_q log p(y|z)).
/// </summary>
public static class MixtureLoss
{
    public static readonly double LabelPriorNats = Math.Log(MixturePrior.Components);

    /// <param name="componentLogDensities">log N(z; m_k, exp(v_k)) at the sampled z, [n, 10] (<see cref="MixturePrior.ComponentLogDensities"/>)</param>
    /// <param name="classWeight">w: 1 gives exactly the label bound</param>
    public static (Tensor Total, Tensor Bce, Tensor Kl) Compute(
        Tensor reconstruction, Tensor x, Tensor mu, Tensor logVar, Tensor labels,
        Tensor means, Tensor logvars, Tensor componentLogDensities, double classWeight)
    {
        using var scope = NewDisposeScope();
        var bce = nn.functional.binary_cross_entropy(reconstruction, x, reduction: nn.Reduction.Sum);
        // KL(N(mu, s^2) || N(m, t^2)) = 0.5 * sum(ln t^2 - ln s^2 + (s^2 + (mu - m)^2) / t^2 - 1), per dimension.
        var m = means.index_select(0, labels);
        var v = logvars.index_select(0, labels);
        var kl = 0.5 * (v - logVar + (logVar.exp() + (mu - m).pow(2)) * (-v).exp() - 1).sum();
        var total = bce + kl + LabelPriorNats * x.shape[0];
        if (classWeight != 1)
        {
            // -log p(y|z) = -(log N_y(z) - logsumexp_k log N_k(z)); p(y) is uniform and cancels.
            var own = componentLogDensities.gather(1, labels.unsqueeze(1)).squeeze(1);
            var classification = (componentLogDensities.logsumexp(1) - own).sum();
            total = total + (classWeight - 1) * classification;
        }
        return (total.MoveToOuterDisposeScope(), bce.MoveToOuterDisposeScope(), kl.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// One-sample estimate of KL(q(z|x) || p(z)) with p the whole mixture, summed over the batch: log q(z|x) - log p(z)
    /// at z = mu + sigma * eps. The KL to a mixture has no closed form; this needs no labels, so BCE + it bounds -log p(x).
    /// </summary>
    public static Tensor KlToMixtureEstimate(Tensor eps, Tensor logVar, Tensor componentLogDensities)
    {
        using var scope = NewDisposeScope();
        // The -0.5 * ln(2 pi) per dimension appears in both densities and cancels.
        var logQ = -0.5 * (logVar + eps.pow(2)).sum(1);
        var logP = componentLogDensities.logsumexp(1) - LabelPriorNats;
        return (logQ - logP).sum().MoveToOuterDisposeScope();
    }
}
