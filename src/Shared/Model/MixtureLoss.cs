using static TorchSharp.torch;

namespace VaeCluster.Model;

/// <summary>
/// The mixture model's negative ELBO of log p(x, y), summed over the batch:
/// BCE + KL(q(z|x) || N(m_y, I)) + ln 10 per image (the label prior p(y) = 1/10).
/// Since p(x) >= p(x, y), the total is also an upper bound on -log p(x), so it compares with the reference VAE's loss.
/// </summary>
public static class MixtureLoss
{
    public static readonly double LabelPriorNats = Math.Log(10);

    /// <param name="componentMeans">m_y for each row: the mean of the component of the row's digit, [n, latent]</param>
    public static (Tensor Total, Tensor Bce, Tensor Kl) Compute(
        Tensor reconstruction, Tensor x, Tensor mu, Tensor logVar, Tensor componentMeans)
    {
        // KL(N(mu, s^2) || N(m, I)) is the reference KL(N(mu - m, s^2) || N(0, I)): the code measured from its component.
        using var shifted = mu - componentMeans;
        var (bceAndKl, bce, kl) = VaeLoss.Compute(reconstruction, x, shifted, logVar);
        using (bceAndKl)
            return (bceAndKl + LabelPriorNats * x.shape[0], bce, kl);
    }

    /// <summary>
    /// One-sample estimate of KL(q(z|x) || sum_k 1/10 N(m_k, I)), summed over the batch: log q(z|x) - log p(z) at
    /// z = mu + sigma * eps. The KL to a mixture has no closed form; this needs no labels, so it bounds -log p(x).
    /// </summary>
    public static Tensor KlToMixtureEstimate(Tensor z, Tensor eps, Tensor logVar, Tensor means)
    {
        using var scope = NewDisposeScope();
        // The 0.5 * log(2 pi) per dimension appears in both densities and cancels.
        var logQ = -0.5 * (logVar + eps.pow(2)).sum(1);
        var squared = (z.unsqueeze(1) - means.unsqueeze(0)).pow(2).sum(2);      // [n, components]
        var logP = (-0.5 * squared).logsumexp(1) - LabelPriorNats;
        return (logQ - logP).sum().MoveToOuterDisposeScope();
    }
}
