using SkiaSharp;
using VaeCluster.Coordinator.Explore;
using VaeCluster.Coordinator.Run;
using Xunit;

namespace VaeCluster.Tests.Explore;

/// <summary>Loss curves from RUN_DIR/metrics.jsonl.</summary>
public sealed class LossCurvesTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("vae-curves-").FullName;
    private string Metrics => Path.Combine(folder, "metrics.jsonl");

    [Fact]
    public void Should_read_the_epoch_lines_and_skip_event_lines()
    {
        File.WriteAllLines(Metrics,
        [
            """{"epoch":1,"step":469,"train_loss":165.1,"test_loss":128.0,"samples_per_s":21996.4,"train_s":2.7,"workers":2}""",
            """{"event":"worker_lost","worker":"worker-2","step":500}""",
            "",
            """{"epoch":2,"step":938,"train_loss":122.4,"test_loss":116.3,"samples_per_s":27124.1,"train_s":2.2,"workers":1}""",
        ]);

        var epochs = LossCurves.Read(Metrics);

        Assert.Equal([new LossCurves.EpochLoss(1, 165.1, 128.0), new LossCurves.EpochLoss(2, 122.4, 116.3)], epochs);
    }

    [Fact]
    public void Should_say_when_there_are_no_metrics_yet()
    {
        var error = Assert.Throws<RunFileError>(() => LossCurves.Read(Metrics));
        Assert.Contains("no metrics yet", error.Message);
        File.WriteAllText(Metrics, "");
        Assert.Contains("no epoch", Assert.Throws<RunFileError>(() => LossCurves.Read(Metrics)).Message);
    }

    [Fact]
    public void Should_name_the_line_that_is_not_an_epoch_record()
    {
        File.WriteAllLines(Metrics, ["""{"epoch":1,"train_loss":165.1,"test_loss":128.0}""", """{"epoch":2,"train_loss":"""]);
        Assert.Contains("line 2", Assert.Throws<RunFileError>(() => LossCurves.Read(Metrics)).Message);
    }

    [Fact]
    public void Should_draw_a_png_chart()
    {
        var path = Path.Combine(folder, "sub", "curves.png");
        LossCurves.Draw([new LossCurves.EpochLoss(1, 165.1, 128.0), new LossCurves.EpochLoss(2, 122.4, 116.3)], path);

        using var bitmap = SKBitmap.Decode(path);
        Assert.Equal((800, 500), (bitmap.Width, bitmap.Height));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!)); // no temporary file left beside it
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
