using static TorchSharp.torch;

namespace VaeCluster.Model;

/// <summary>
/// Refits the mixture prior to the trained encoder's codes ("ex-post density estimation", Ghosh et al. 2019), once,
/// when the run is exported: each digit gets <see cref="PerDigit"/> diagonal Gaussians fitted by EM to the aggregated
/// posterior of its training images, sum_i q(z | x_i). Training's six Gaussians per digit are pulled apart by the
/// classification term and end narrower than the codes they cover; draws from them are too alike (diversity
/// 0.65-0.78). docs/MIXTURE_MODEL.md has the measurements that chose the constants below.
/// Deterministic: the same codes and seed give the same components.
/// </summary>
public static class MixturePriorFit
{
    /// <summary>Gaussians per digit in the exported prior; measured 6, 12, 24, 48 and 96.</summary>
    public const int PerDigit = 96;

    /// <summary>Only codes that the trained prior itself reads as their own digit this surely (p(y | mu)) are fitted; measured 0, 0.9 and 0.99.</summary>
    public const double MinOwnDigit = 0.9999;

    public const int Iterations = 50;

    /// <summary>No fitted variance falls below this (a component on a few near-equal codes would collapse).</summary>
    private const double VarianceFloor = 1e-3;

    /// <summary>
    /// The prior to export: <see cref="PerDigit"/> components per digit (component k belongs to digit k mod 10), fitted
    /// to the codes (<paramref name="mu"/>, <paramref name="logVar"/>: q(z|x) of each training image, <paramref name="labels"/>
    /// int64). Digit y's EM starts from its trained components and then from codes of the digit drawn with
    /// <paramref name="seed"/>. Null when some digit has fewer usable codes than components (tiny --train-limit runs):
    /// the trained prior is exported as it is.
    /// </summary>
    public static (Tensor Means, Tensor LogVars)? Fit(Tensor mu, Tensor logVar, Tensor labels, Tensor ownDigitProbability,
        Tensor trainedMeans, Tensor trainedLogVars, long seed)
    {
        using var scope = NewDisposeScope();
        int digits = MixturePrior.Digits;
        long latent = mu.shape[1];
        int trainedPerDigit = (int)(trainedMeans.shape[0] / digits);
        var means = zeros(new long[] { digits * PerDigit, latent }, ScalarType.Float64);
        var logVars = zeros(new long[] { digits * PerDigit, latent }, ScalarType.Float64);
        using var generator = new Generator((ulong)seed);
        for (int y = 0; y < digits; y++)
        {
            using var digit = NewDisposeScope();
            var rows = ((labels == y) & (ownDigitProbability >= MinOwnDigit)).nonzero().squeeze(1);
            if (rows.shape[0] < PerDigit) return null;
            var codes = mu.index_select(0, rows).to(ScalarType.Float64);
            var variances = logVar.index_select(0, rows).to(ScalarType.Float64).exp();
            // k = j * 10 + y: the digit's components are every tenth row.
            var own = arange(y, digits * trainedPerDigit, digits);
            var startMeans = trainedMeans.index_select(0, own).to(ScalarType.Float64);
            var startLogVars = trainedLogVars.index_select(0, own).to(ScalarType.Float64);
            int extra = PerDigit - trainedPerDigit;
            if (extra > 0)
            {
                var picked = randperm(codes.shape[0], generator: generator).narrow(0, 0, extra);
                startMeans = cat([startMeans, codes.index_select(0, picked)]);
                startLogVars = cat([startLogVars, startLogVars.mean([0], keepdim: true).expand(extra, latent)]);
            }
            else
            {
                startMeans = startMeans.narrow(0, 0, PerDigit);
                startLogVars = startLogVars.narrow(0, 0, PerDigit);
            }
            var (m, v) = Em(codes, variances, startMeans, startLogVars, Iterations);
            var slots = arange(y, digits * PerDigit, digits);
            means.index_copy_(0, slots, m);
            logVars.index_copy_(0, slots, v);
        }
        return (means.to(ScalarType.Float32).MoveToOuterDisposeScope(), logVars.to(ScalarType.Float32).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// EM for diagonal Gaussians with equal weights fitted to a set of Gaussians N(codes_i, diag(variances_i)) (the
    /// aggregated posterior): responsibilities from E_q log N(z; m_k, v_k), then m_k and v_k the responsibility-weighted
    /// mean and second moment of the q's. A component that no code claims keeps its values.
    /// </summary>
    public static (Tensor Means, Tensor LogVars) Em(Tensor codes, Tensor variances, Tensor means, Tensor logVars, int iterations)
    {
        using var scope = NewDisposeScope();
        var m = means.clone();
        var v = logVars.clone();
        var secondMoment = codes.pow(2) + variances;
        for (int i = 0; i < iterations; i++)
        {
            // Each iteration's [n, K] temporaries go at its end, not at the fit's.
            using var step = NewDisposeScope();
            var inverse = (-v).exp();
            // E_q log N(z; m_k, v_k) without constants: -0.5 sum_d [v_kd + ((mu_id - m_kd)^2 + s_id^2) / exp(v_kd)],
            // the square expanded into products, so that no [n, K, latent] tensor is made.
            var quadratic = secondMoment.mm(inverse.t()) - 2 * codes.mm((m * inverse).t()) + (m.pow(2) * inverse).sum(1).unsqueeze(0);
            var logLikelihood = -0.5 * (v.sum(1).unsqueeze(0) + quadratic);
            var responsibilities = logLikelihood.softmax(1);
            var claimed = responsibilities.sum(dim: 0).unsqueeze(1); // (a bare 0 would bind to sum's ScalarType overload)
            var alive = claimed > 1e-8;
            var newMeans = responsibilities.t().mm(codes) / claimed.clamp_min(1e-8);
            var newVariances = responsibilities.t().mm(secondMoment) / claimed.clamp_min(1e-8) - newMeans.pow(2);
            m = where(alive, newMeans, m).MoveToOuterDisposeScope();
            v = where(alive, newVariances.clamp_min(VarianceFloor).log(), v).MoveToOuterDisposeScope();
        }
        return (m.MoveToOuterDisposeScope(), v.MoveToOuterDisposeScope());
    }
}
