using VaeCluster.Model;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Model;

public sealed class MixtureLossTests
{
    // Two images of 3 pixels and codes of 2 dimensions: small enough to write the formula out by hand.
    private static readonly float[] X = [0f, 1f, 0.5f, 1f, 0f, 0.25f];
    private static readonly float[] Recon = [0.1f, 0.8f, 0.5f, 0.7f, 0.2f, 0.3f];
    private static readonly float[] Mu = [0.5f, -1f, 2f, 0.25f];
    private static readonly float[] LogVar = [0f, -0.5f, 0.3f, -1f];
    private static readonly float[] Means = [1f, 0f, 2f, 1f]; // m_y of each row, [2, 2]

    [Fact]
    public void Should_equal_bce_plus_kl_to_each_rows_component_plus_ln10_per_image()
    {
        double bce = 0;
        for (int i = 0; i < X.Length; i++) bce -= X[i] * Math.Log(Recon[i]) + (1 - X[i]) * Math.Log(1 - Recon[i]);
        double kl = 0; // KL(N(mu, e^lv) || N(m, 1)) = 0.5 * (e^lv + (mu - m)^2 - 1 - lv), per dimension
        for (int i = 0; i < Mu.Length; i++) kl += 0.5 * (Math.Exp(LogVar[i]) + Math.Pow(Mu[i] - Means[i], 2) - 1 - LogVar[i]);

        var (total, reconstruction, klTensor) = MixtureLoss.Compute(
            tensor(Recon, [2, 3]), tensor(X, [2, 3]), tensor(Mu, [2, 2]), tensor(LogVar, [2, 2]), tensor(Means, [2, 2]));

        Assert.Equal(bce, reconstruction.item<float>(), 4);
        Assert.Equal(kl, klTensor.item<float>(), 4);
        Assert.Equal(bce + kl + 2 * Math.Log(10), total.item<float>(), 3);
    }

    [Fact]
    public void Should_estimate_the_kl_to_the_whole_mixture_as_log_q_minus_log_p_at_the_sampled_code()
    {
        float[] eps = [0.3f, -1.2f, 0.7f, 0.1f];
        using var components = randn(10, 2) * 3;
        var m = components.data<float>().ToArray();
        double expected = 0;
        for (int row = 0; row < 2; row++)
        {
            double logQ = 0, z0 = 0, z1 = 0;
            for (int d = 0; d < 2; d++)
            {
                int i = row * 2 + d;
                double z = Mu[i] + Math.Exp(0.5 * LogVar[i]) * eps[i];
                if (d == 0) z0 = z; else z1 = z;
                logQ += -0.5 * Math.Log(2 * Math.PI) - 0.5 * LogVar[i] - 0.5 * eps[i] * eps[i];
            }
            double p = 0;
            for (int k = 0; k < 10; k++)
                p += 0.1 / (2 * Math.PI) * Math.Exp(-0.5 * (Math.Pow(z0 - m[2 * k], 2) + Math.Pow(z1 - m[2 * k + 1], 2)));
            expected += logQ - Math.Log(p);
        }

        using var logVar = tensor(LogVar, [2, 2]);
        using var e = tensor(eps, [2, 2]);
        using var code = tensor(Mu, [2, 2]) + (0.5 * logVar).exp() * e;
        Assert.Equal(expected, MixtureLoss.KlToMixtureEstimate(code, e, logVar, components).item<float>(), 3);
    }

    [Fact]
    public void Should_place_the_ten_component_means_on_their_own_axes_equally_far_apart()
    {
        using var means = MixtureVae.ComponentMeans(20);
        Assert.Equal([10L, 20L], means.shape);
        using var distances = cdist(means, means);
        var d = distances.data<float>().ToArray();
        for (int a = 0; a < 10; a++)
            for (int b = 0; b < 10; b++)
                Assert.Equal(a == b ? 0 : MixtureVae.Spacing * Math.Sqrt(2), d[a * 10 + b], 3);
    }
}
