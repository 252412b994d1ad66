using SkiaSharp;
using VaeCluster.Data;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>./vae explore on a real trained run: the pictures exist, decode, and show what they say.</summary>
public sealed class ExploreCommandTests(TrainedRun trained) : IClassFixture<TrainedRun>
{
    private const int Cell = 28 * 3 + 2; // the strip draws digits at 3x with a 2-pixel gutter

    [Fact]
    public void Should_draw_a_strip_that_starts_as_one_digit_and_ends_as_the_other()
    {
        var result = CliProcess.Run(trained.Work, "explore", "interpolate", "--run", "run", "--from", "0", "--to", "1", "--steps", "6");
        Assert.True(result.ExitCode == 0, result.StdErr);

        using var strip = SKBitmap.Decode(Path.Combine(trained.Run, "explore", "interpolate-0-1.png"));
        Assert.Equal((6 * Cell + 2, Cell + 2), (strip.Width, strip.Height));
        var (zero, one) = MeanTestImages(0, 1);
        var first = Digit(strip, 0);
        var last = Digit(strip, 5);
        Assert.True(Distance(first, zero) < Distance(first, one), "the first picture should look like a 0");
        Assert.True(Distance(last, one) < Distance(last, zero), "the last picture should look like a 1");
    }

    [Fact]
    public void Should_map_the_test_set_and_chart_the_loss_curves()
    {
        var latent = CliProcess.Run(trained.Work, "explore", "latent", "--run", "run", "--out", "maps/latent.png");
        Assert.True(latent.ExitCode == 0, latent.StdErr);
        Assert.Contains("10000 test images", latent.StdOut);
        using (var map = SKBitmap.Decode(Path.Combine(trained.Work, "maps", "latent.png")))
            Assert.Equal((900, 750), (map.Width, map.Height));

        var curves = CliProcess.Run(trained.Work, "explore", "curves", "--run", "run");
        Assert.True(curves.ExitCode == 0, curves.StdErr);
        Assert.Contains("2 epochs", curves.StdOut);
        using var chart = SKBitmap.Decode(Path.Combine(trained.Run, "explore", "curves.png"));
        Assert.Equal((800, 500), (chart.Width, chart.Height));
    }

    [Theory]
    [InlineData("interpolate --run run --from 11 --to 8", "--from must be a digit from 0 to 9")]
    [InlineData("interpolate --run run --from 3 --to 8 --steps 51", "--steps must be at most 50")]
    [InlineData("interpolate --run no-such-run --from 3 --to 8", "run directory not found")]
    [InlineData("latent --run empty-run", "neither model.safetensors nor a usable checkpoint")]
    [InlineData("curves --run empty-run", "no metrics yet")]
    public void Should_refuse_bad_input_in_one_line_and_write_nothing(string arguments, string message)
    {
        Directory.CreateDirectory(Path.Combine(trained.Work, "empty-run"));

        var result = CliProcess.Run(trained.Work, ["explore", .. arguments.Split(' ')]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.StdErr);
        Assert.Single(result.StdErr.Trim().Split('\n'));
        Assert.False(Directory.Exists(Path.Combine(trained.Work, "empty-run", "explore")));
        Assert.False(File.Exists(Path.Combine(trained.Run, "explore", "interpolate-3-8.png")));
    }

    /// <summary>The picture in cell <paramref name="index"/>, scaled back to 28x28 values in [0, 1].</summary>
    private static float[] Digit(SKBitmap strip, int index)
    {
        var pixels = new float[28 * 28];
        for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++)
            pixels[y * 28 + x] = strip.GetPixel(2 + index * Cell + x * 3 + 1, 2 + y * 3 + 1).Red / 255f;
        return pixels;
    }

    private static (float[], float[]) MeanTestImages(int a, int b)
    {
        using var data = MnistDataset.Load(TestData.MnistDir, trainLimit: 1);
        var images = data.Test.Images.data<float>().ToArray();
        float[] Mean(int digit)
        {
            var rows = Enumerable.Range(0, data.Test.Count).Where(i => data.Test.Labels[i] == digit).ToList();
            return Enumerable.Range(0, 784).Select(p => rows.Average(r => images[r * 784 + p])).ToArray();
        }
        return (Mean(a), Mean(b));
    }

    private static double Distance(float[] x, float[] y) => Math.Sqrt(x.Zip(y, (p, q) => (double)(p - q) * (p - q)).Sum());
}
