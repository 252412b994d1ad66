using VaeCluster.Model;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Model;

/// <summary>The learned-prior mixture's losses and draws against the formulas written out by hand in doubles.</summary>
public sealed class MixtureLossTests
{
    // Two images of 3 pixels and codes of 2 dimensions, two components per digit (K = 20): small enough to write
    // the formulas out by hand.
    private const int PerDigit = 2;
    private static readonly float[] X = [0f, 1f, 0.5f, 1f, 0f, 0.25f];
    private static readonly float[] Recon = [0.1f, 0.8f, 0.5f, 0.7f, 0.2f, 0.3f];
    private static readonly float[] Mu = [0.5f, -1f, 2f, 0.25f];
    private static readonly float[] LogVar = [0f, -0.5f, 0.3f, -1f];
    private static readonly float[] Eps = [0.3f, -1.2f, 0.7f, 0.1f];
    private static readonly long[] Labels = [3, 8];

    // Twenty components in 2 dimensions, drawn once from a fixed generator: means m[k, d], log-variances v[k, d].
    private static readonly (float[] M, float[] V) Components = Draw();

    private static (float[] M, float[] V) Draw()
    {
        using var generator = new Generator(11);
        using var m = randn(new long[] { 20, 2 }, generator: generator) * 2;
        using var v = randn(new long[] { 20, 2 }, generator: generator) * 0.5;
        return (m.data<float>().ToArray(), v.data<float>().ToArray());
    }

    private static double Z(int i) => Mu[i] + Math.Exp(0.5 * LogVar[i]) * Eps[i];

    /// <summary>log N(z_row; m_k, diag(e^v_k)), with its ln(2 pi) terms.</summary>
    private static double LogNormal(int row, int k)
    {
        var (m, v) = Components;
        double sum = 0;
        for (int d = 0; d < 2; d++)
            sum += -0.5 * (Math.Log(2 * Math.PI) + v[2 * k + d] + Math.Pow(Z(2 * row + d) - m[2 * k + d], 2) / Math.Exp(v[2 * k + d]));
        return sum;
    }

    /// <summary>log p(z_row | y) = log (1/2 N(z; m_y, .) + 1/2 N(z; m_{10+y}, .)): component k belongs to digit k mod 10.</summary>
    private static double LogPGiven(int row, int digit) =>
        Math.Log(0.5 * Math.Exp(LogNormal(row, digit)) + 0.5 * Math.Exp(LogNormal(row, 10 + digit)));

    /// <summary>E_q log q(z|x) = -0.5 * sum(ln(2 pi) + lv + 1).</summary>
    private static double NegativeEntropy(int row) =>
        Enumerable.Range(0, 2).Sum(d => -0.5 * (Math.Log(2 * Math.PI) + LogVar[2 * row + d] + 1));

    private static MixturePrior Prior()
    {
        var prior = new MixturePrior(2, 0f, PerDigit);
        using var means = tensor(Components.M, [20, 2]);
        using var logvars = tensor(Components.V, [20, 2]);
        prior.LoadValues(means, logvars);
        return prior;
    }

    [Theory]
    [InlineData(1.0, 1.0)]
    [InlineData(3.0, 1.0)]
    [InlineData(20.0, 0.5)]
    public void Should_equal_bce_plus_weighted_kl_estimate_to_the_digits_components_plus_ln10_plus_weighted_classification(double classWeight, double klWeight)
    {
        double bce = 0;
        for (int i = 0; i < X.Length; i++) bce -= X[i] * Math.Log(Recon[i]) + (1 - X[i]) * Math.Log(1 - Recon[i]);
        double kl = 0, classification = 0;
        for (int row = 0; row < 2; row++)
        {
            int y = (int)Labels[row];
            kl += NegativeEntropy(row) - LogPGiven(row, y);
            // -log p(y|z) with p(y) = 1/10: the share of digit y in the mixture's density at z
            classification -= Math.Log(Math.Exp(LogPGiven(row, y)) / Enumerable.Range(0, 10).Sum(k => Math.Exp(LogPGiven(row, k))));
        }

        using var prior = Prior();
        using var logVar = tensor(LogVar, [2, 2]);
        using var z = tensor(Mu, [2, 2]) + (0.5 * logVar).exp() * tensor(Eps, [2, 2]);
        using var densities = prior.DigitLogDensities(z);
        var (total, reconstruction, klTensor) = MixtureLoss.Compute(tensor(Recon, [2, 3]), tensor(X, [2, 3]), logVar, tensor(Labels), densities, classWeight, klWeight);

        Assert.Equal(bce, reconstruction.item<float>(), 4);
        Assert.Equal(kl, klTensor.item<float>(), 3);
        Assert.Equal(bce + klWeight * kl + 2 * Math.Log(10) + (classWeight - 1) * classification, total.item<float>(), 3);
    }

    [Fact]
    public void Should_estimate_the_kl_to_the_whole_mixture_as_log_q_minus_log_p_at_the_sampled_code()
    {
        double expected = 0;
        for (int row = 0; row < 2; row++)
        {
            double logQ = Enumerable.Range(0, 2).Sum(d => -0.5 * (Math.Log(2 * Math.PI) + LogVar[2 * row + d] + Eps[2 * row + d] * Eps[2 * row + d]));
            // p(z) = sum_k 1/20 N(z; m_k, diag(e^v_k))
            double logP = Math.Log(Enumerable.Range(0, 20).Sum(k => Math.Exp(LogNormal(row, k)) / 20));
            expected += logQ - logP;
        }

        using var prior = Prior();
        using var logVar = tensor(LogVar, [2, 2]);
        using var e = tensor(Eps, [2, 2]);
        using var code = tensor(Mu, [2, 2]) + (0.5 * logVar).exp() * e;
        using var densities = prior.DigitLogDensities(code);
        Assert.Equal(expected, MixtureLoss.KlToMixtureEstimate(e, logVar, densities).item<float>(), 3);
    }

    [Fact]
    public void Should_draw_each_digit_from_one_of_its_own_components_with_that_components_mean_and_variance()
    {
        var (m, v) = Components;
        using var prior = Prior();
        using var eps = tensor(Enumerable.Repeat(new[] { 0.5f, -1f }, 200).SelectMany(p => p).ToArray(), [200, 2]);
        using var digits = tensor(Enumerable.Range(0, 200).Select(i => (long)(i % 10)).ToArray());
        using var generator = new Generator(3);
        using var z = prior.Sample(eps, digits, generator);
        var drawn = z.data<float>().ToArray();
        var used = new HashSet<int>();
        for (int row = 0; row < 200; row++)
        {
            int digit = row % 10;
            // the draw must be m_k + e^(v_k/2) * eps for k = digit or k = 10 + digit
            var k = new[] { digit, 10 + digit }.Single(c =>
                Math.Abs(m[2 * c] + Math.Exp(0.5 * v[2 * c]) * 0.5 - drawn[2 * row]) < 1e-4
                && Math.Abs(m[2 * c + 1] - Math.Exp(0.5 * v[2 * c + 1]) - drawn[2 * row + 1]) < 1e-4);
            used.Add(k);
        }
        Assert.Equal(20, used.Count); // both components of every digit are drawn
    }
}
