using VaeCluster.Coordinator.Explore;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Explore;

/// <summary>PCA on small matrices whose principal axes are known.</summary>
public sealed class PcaTests
{
    [Fact]
    public void Should_find_the_axes_of_most_variance_and_their_share()
    {
        // Spread 2 along x, 1 along y, nothing along z; the centre (1, 1, 1) must be removed first.
        using var data = tensor(new float[] { 3, 1, 1, -1, 1, 1, 1, 2, 1, 1, 0, 1 }, new long[] { 4, 3 });

        var pca = Pca.Fit(data, 2);

        Assert.Equal([2f, -2f, 0f, 0f], pca.Coordinates[0].Select(v => MathF.Round(v, 5)));
        Assert.Equal([0f, 0f, 1f, -1f], pca.Coordinates[1].Select(v => MathF.Round(v, 5)));
        Assert.Equal(0.8, pca.ExplainedVariance[0], 6);
        Assert.Equal(0.2, pca.ExplainedVariance[1], 6);
    }

    [Fact]
    public void Should_find_a_diagonal_axis()
    {
        // Points on the line y = x, with a little spread across it.
        using var data = tensor(new float[] { -2, -2, -1, -1, 1, 1, 2, 2, 0.1f, -0.1f, -0.1f, 0.1f }, new long[] { 6, 2 });

        var pca = Pca.Fit(data, 1);

        var expected = new[] { -2, -1, 1, 2, 0, 0 }.Select(v => (float)Math.Round(v * Math.Sqrt(2), 4));
        Assert.Equal(expected, pca.Coordinates[0].Select(v => MathF.Round(v, 4)));
        Assert.True(pca.ExplainedVariance[0] > 0.99);
    }

    [Fact]
    public void Should_refuse_more_components_than_dimensions()
    {
        using var data = zeros(5, 2);
        Assert.Throws<ArgumentException>(() => Pca.Fit(data, 3));
    }
}
