using VaeCluster.Coordinator.Quality;
using VaeCluster.Data;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Quality;

public sealed class DiversityReportTests
{
    [Fact]
    public void Should_score_real_digits_one_copies_zero_and_a_half_scaled_spread_one_half()
    {
        using var images = rand(40, 784);
        var labels = Enumerable.Range(0, 40).Select(i => (byte)(i % 2)).ToArray();
        var test = new MnistSplit(images, labels);

        Assert.All(DiversityReport.Of(images, labels, test).PerDigit, d => Assert.Equal(1.0, d.Ratio, 4));

        using var copies = images.narrow(0, 0, 2).repeat(20, 1); // rows alternate digit 0 / digit 1, each one image
        Assert.All(DiversityReport.Of(copies, labels, test).PerDigit, d => Assert.Equal(0.0, d.Ratio, 4));

        using var halved = images * 0.5;                           // every distance halves
        var report = DiversityReport.Of(halved, labels, test);
        Assert.Equal([0, 1], report.PerDigit.Select(d => d.Digit));
        Assert.All(report.PerDigit, d => Assert.Equal(0.5, d.Ratio, 4));
        Assert.Equal(0.5, report.Worst, 4);
    }
}
