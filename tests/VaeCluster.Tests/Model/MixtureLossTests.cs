using VaeCluster.Model;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Model;

/// <summary>The learned-prior mixture's losses against the formulas written out by hand in doubles.</summary>
public sealed class MixtureLossTests
{
    // Two images of 3 pixels and codes of 2 dimensions: small enough to write the formulas out by hand.
    private static readonly float[] X = [0f, 1f, 0.5f, 1f, 0f, 0.25f];
    private static readonly float[] Recon = [0.1f, 0.8f, 0.5f, 0.7f, 0.2f, 0.3f];
    private static readonly float[] Mu = [0.5f, -1f, 2f, 0.25f];
    private static readonly float[] LogVar = [0f, -0.5f, 0.3f, -1f];
    private static readonly float[] Eps = [0.3f, -1.2f, 0.7f, 0.1f];
    private static readonly long[] Labels = [3, 8];

    // Ten components in 2 dimensions, drawn once from a fixed generator: means m[k, d], log-variances v[k, d].
    private static (float[] M, float[] V) Prior()
    {
        using var generator = new Generator(11);
        using var m = randn(new long[] { 10, 2 }, generator: generator) * 2;
        using var v = randn(new long[] { 10, 2 }, generator: generator) * 0.5;
        return (m.data<float>().ToArray(), v.data<float>().ToArray());
    }

    private static double Z(int i) => Mu[i] + Math.Exp(0.5 * LogVar[i]) * Eps[i];

    /// <summary>log N(z_row; m_k, diag(e^v_k)) without the ln(2 pi) terms, as the code computes it.</summary>
    private static double LogDensity(int row, int k, float[] m, float[] v)
    {
        double sum = 0;
        for (int d = 0; d < 2; d++) sum += v[2 * k + d] + Math.Pow(Z(2 * row + d) - m[2 * k + d], 2) / Math.Exp(v[2 * k + d]);
        return -0.5 * sum;
    }

    private static double LogSumExp(IEnumerable<double> values)
    {
        var list = values.ToList();
        double max = list.Max();
        return max + Math.Log(list.Sum(a => Math.Exp(a - max)));
    }

    private static (Tensor Total, Tensor Bce, Tensor Kl) Compute(float[] m, float[] v, double classWeight)
    {
        using var prior = new MixturePrior(2, 0f);
        using var means = tensor(m, [10, 2]);
        using var logvars = tensor(v, [10, 2]);
        using var mu = tensor(Mu, [2, 2]);
        using var logVar = tensor(LogVar, [2, 2]);
        using var z = mu + (0.5 * logVar).exp() * tensor(Eps, [2, 2]);
        prior.LoadValues(means, logvars);
        using var densities = prior.ComponentLogDensities(z);
        return MixtureLoss.Compute(tensor(Recon, [2, 3]), tensor(X, [2, 3]), mu, logVar, tensor(Labels), means, logvars, densities, classWeight);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(3.0)]
    public void Should_equal_bce_plus_kl_to_each_rows_learned_component_plus_ln10_plus_weighted_classification(double classWeight)
    {
        var (m, v) = Prior();
        double bce = 0;
        for (int i = 0; i < X.Length; i++) bce -= X[i] * Math.Log(Recon[i]) + (1 - X[i]) * Math.Log(1 - Recon[i]);
        double kl = 0, classification = 0;
        for (int row = 0; row < 2; row++)
        {
            int y = (int)Labels[row];
            // KL(N(mu, e^lv) || N(m, e^v)) = 0.5 * (v - lv + (e^lv + (mu - m)^2) / e^v - 1), per dimension
            for (int d = 0; d < 2; d++)
            {
                int i = 2 * row + d, k = 2 * y + d;
                kl += 0.5 * (v[k] - LogVar[i] + (Math.Exp(LogVar[i]) + Math.Pow(Mu[i] - m[k], 2)) / Math.Exp(v[k]) - 1);
            }
            // -log p(y|z) with p(y) = 1/10: the share of component y in the mixture's density at z
            classification -= LogDensity(row, y, m, v) - LogSumExp(Enumerable.Range(0, 10).Select(k => LogDensity(row, k, m, v)));
        }

        var (total, reconstruction, klTensor) = Compute(m, v, classWeight);

        Assert.Equal(bce, reconstruction.item<float>(), 4);
        Assert.Equal(kl, klTensor.item<float>(), 4);
        Assert.Equal(bce + kl + 2 * Math.Log(10) + (classWeight - 1) * classification, total.item<float>(), 3);
    }

    [Fact]
    public void Should_estimate_the_kl_to_the_whole_mixture_as_log_q_minus_log_p_at_the_sampled_code()
    {
        var (m, v) = Prior();
        double expected = 0;
        for (int row = 0; row < 2; row++)
        {
            double logQ = 0, logP = 0;
            for (int d = 0; d < 2; d++)
            {
                int i = row * 2 + d;
                logQ += -0.5 * Math.Log(2 * Math.PI) - 0.5 * LogVar[i] - 0.5 * Eps[i] * Eps[i];
            }
            // p(z) = sum_k 1/10 N(z; m_k, diag(e^v_k)), here with its ln(2 pi) terms
            double p = 0;
            for (int k = 0; k < 10; k++)
            {
                double density = 1;
                for (int d = 0; d < 2; d++)
                {
                    double variance = Math.Exp(v[2 * k + d]);
                    density *= Math.Exp(-0.5 * Math.Pow(Z(2 * row + d) - m[2 * k + d], 2) / variance) / Math.Sqrt(2 * Math.PI * variance);
                }
                p += 0.1 * density;
            }
            logP = Math.Log(p);
            expected += logQ - logP;
        }

        using var prior = new MixturePrior(2, 0f);
        using var means = tensor(m, [10, 2]);
        using var logvars = tensor(v, [10, 2]);
        prior.LoadValues(means, logvars);
        using var logVar = tensor(LogVar, [2, 2]);
        using var e = tensor(Eps, [2, 2]);
        using var code = tensor(Mu, [2, 2]) + (0.5 * logVar).exp() * e;
        using var densities = prior.ComponentLogDensities(code);
        Assert.Equal(expected, MixtureLoss.KlToMixtureEstimate(e, logVar, densities).item<float>(), 3);
    }

    [Fact]
    public void Should_draw_digit_codes_from_the_asked_components_mean_and_variance()
    {
        var (m, v) = Prior();
        using var prior = new MixturePrior(2, 0f);
        using var means = tensor(m, [10, 2]);
        using var logvars = tensor(v, [10, 2]);
        prior.LoadValues(means, logvars);
        using var z = prior.Sample(tensor(Eps, [2, 2]), tensor(Labels));
        var drawn = z.data<float>().ToArray();
        for (int row = 0; row < 2; row++)
            for (int d = 0; d < 2; d++)
            {
                int k = 2 * (int)Labels[row] + d;
                Assert.Equal(m[k] + Math.Exp(0.5 * v[k]) * Eps[2 * row + d], drawn[2 * row + d], 4);
            }
    }
}
