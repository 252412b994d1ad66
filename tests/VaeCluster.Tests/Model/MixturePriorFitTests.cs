using VaeCluster.Model;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Model;

/// <summary>The exported prior's fit (MixturePriorFit): EM recovers known components, and the fit is deterministic.</summary>
public sealed class MixturePriorFitTests
{
    /// <summary>
    /// Codes q(z|x_i) = N(c_i, s^2 I) with centres c_i drawn from N(m, (v - s^2) I): their aggregated posterior is exactly
    /// N(m, v I). Two such clusters in 2 dimensions.
    /// </summary>
    private static (Tensor Codes, Tensor Variances) Clusters(Generator generator, int perCluster, double s2)
    {
        double[][] means = [[0, 0], [8, 8]];
        double[] variances = [1.0, 0.25];
        var codes = cat(Enumerable.Range(0, 2).Select(c =>
            tensor(means[c], ScalarType.Float64) + randn(new long[] { perCluster, 2 }, ScalarType.Float64, generator: generator) * Math.Sqrt(variances[c] - s2)).ToList());
        return (codes, full(new long[] { 2 * perCluster, 2 }, s2, ScalarType.Float64));
    }

    [Fact]
    public void Should_recover_the_means_and_variances_of_the_aggregated_posterior_from_poor_starting_points()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(3);
        var (codes, variances) = Clusters(generator, perCluster: 4000, s2: 0.1);
        var startMeans = tensor(new double[] { 2, -1, 5, 6 }, new long[] { 2, 2 }, ScalarType.Float64);
        var startLogVars = zeros(new long[] { 2, 2 }, ScalarType.Float64);

        var (m, v) = MixturePriorFit.Em(codes, variances, startMeans, startLogVars, iterations: 50);

        var means = m.data<double>().ToArray();
        var fitted = v.exp().data<double>().ToArray();
        double[] expectedMeans = [0, 0, 8, 8];
        double[] expectedVariances = [1, 1, 0.25, 0.25];
        for (int i = 0; i < 4; i++)
        {
            Assert.InRange(means[i], expectedMeans[i] - 0.06, expectedMeans[i] + 0.06);
            // the code variances s^2 count: fitting the centres alone would give v - s^2 (0.9 and 0.15)
            Assert.InRange(fitted[i], expectedVariances[i] * 0.9, expectedVariances[i] * 1.1);
        }
    }

    [Fact]
    public void Should_fit_each_digit_only_to_its_sure_codes_and_give_the_same_prior_for_the_same_seed()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(5);
        const int perDigit = 2 * MixturePriorFit.PerDigit; // codes per digit: enough for its components
        const int latent = 3;
        var labels = arange(MixturePrior.Digits).repeat_interleave(perDigit);
        // Digit y's codes around 10 e_y; a tenth of them far off at -50 but marked unsure (p(y | mu) = 0.5).
        var centres = eye(MixturePrior.Digits, latent, ScalarType.Float64).index_select(0, labels) * 10;
        var mu = (centres + randn(new long[] { labels.shape[0], latent }, ScalarType.Float64, generator: generator)).to(ScalarType.Float32);
        var unsure = arange(labels.shape[0]) % 10 == 0;
        mu[unsure] = full(new long[] { 1 }, -50f);
        var logVar = full(new long[] { labels.shape[0], latent }, -2f);
        var ownDigit = where(unsure, 0.5f, 1f);
        var trainedMeans = eye(MixturePrior.Digits, latent).repeat(2, 1) * 10;
        var trainedLogVars = zeros(2 * MixturePrior.Digits, latent);

        var first = MixturePriorFit.Fit(mu, logVar, labels, ownDigit, trainedMeans, trainedLogVars, seed: 7)!.Value;
        var again = MixturePriorFit.Fit(mu, logVar, labels, ownDigit, trainedMeans, trainedLogVars, seed: 7)!.Value;

        long k = MixturePrior.Digits * MixturePriorFit.PerDigit;
        Assert.Equal([k, latent], first.Means.shape);
        Assert.Equal([k, latent], first.LogVars.shape);
        Assert.Equal(first.Means.data<float>().ToArray(), again.Means.data<float>().ToArray());
        Assert.Equal(first.LogVars.data<float>().ToArray(), again.LogVars.data<float>().ToArray());
        // Component k belongs to digit k mod 10: digit y's components average to 10 e_y (their codes' mean), and none is
        // pulled towards the unsure codes at -50.
        var byDigit = first.Means.view(MixturePriorFit.PerDigit, MixturePrior.Digits, latent).mean([0]);
        Assert.True((byDigit - eye(MixturePrior.Digits, latent) * 10).abs().max().item<float>() < 0.5f);
        Assert.True(first.Means.min().item<float>() > -10f);
    }

    [Fact]
    public void Should_keep_the_trained_prior_when_a_digit_has_fewer_sure_codes_than_components()
    {
        using var scope = NewDisposeScope();
        var labels = arange(MixturePrior.Digits).repeat_interleave(MixturePriorFit.PerDigit - 1);
        var mu = randn(labels.shape[0], 10);
        var ones = ones_like(labels, ScalarType.Float32);
        Assert.Null(MixturePriorFit.Fit(mu, zeros_like(mu), labels, ones, zeros(20, 10), zeros(20, 10), seed: 1));
    }
}
