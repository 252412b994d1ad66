using VaeCluster.Coordinator.Run;
using Xunit;

namespace VaeCluster.Tests.Run;

public sealed class MetricsLogTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("vae-metrics-").FullName;

    [Fact]
    public void Should_keep_event_lines_verbatim_and_drop_every_line_about_the_epochs_being_redone()
    {
        var path = Path.Combine(dir, "metrics.jsonl");
        var log = new MetricsLog(path);
        log.Append(new EpochMetrics(1, 10, 200, 190, 1000, 1, 2));
        const string evaluatedAfterOne = """{"event":"evaluate","epoch":1,"step":10,"recognised":0.5,"recognised_by_digit":{"0":0.5}}""";
        log.AppendLine(evaluatedAfterOne);
        log.Append(new EpochMetrics(2, 20, 150, 140, 1000, 1, 2));
        log.AppendLine("""{"event":"evaluate","epoch":2,"step":20,"recognised":0.9}""");

        Assert.Equal([1, 2], log.Read().Select(m => m.Epoch));
        log.TruncateFrom(2);

        var lines = File.ReadAllLines(path);
        Assert.Equal(2, lines.Length);
        Assert.Equal(evaluatedAfterOne, lines[1]);
        Assert.Equal([1], log.Read().Select(m => m.Epoch));
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);
}
