using Xunit;
using static VaeCluster.Tests.Logs.ClefFiles;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>./vae logs on a run directory whose nodes each wrote their own CLEF file.</summary>
public sealed class LogsCommandTests : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("vae-logs-cli-").FullName;

    public LogsCommandTests()
    {
        var logs = Directory.CreateDirectory(Path.Combine(work, "run", "logs")).FullName;
        File.WriteAllLines(Path.Combine(logs, "coordinator.clef"),
            [FromCoordinator(0, "Training {Epochs} epochs", new { Epochs = 2 }), FromCoordinator(3, "Worker {Worker} left", new { Worker = "worker-2" }, level: "Warning")]);
        File.WriteAllLines(Path.Combine(logs, "worker-1.clef"), [FromWorker(1, 1, "Joined"), FromWorker(1, 4, "Shard {Shard} done", new { Shard = 7 }, level: "Debug")]);
        File.WriteAllText(Path.Combine(logs, "worker-2.clef"), FromWorker(2, 2, "Joined") + "\n" + FromWorker(2, 5, "half written")[..30]);
    }

    [Fact]
    public void Should_print_the_events_of_every_node_in_time_order()
    {
        var result = CliProcess.Run(work, "logs", "run");

        Assert.True(result.ExitCode == 0, result.StdErr);
        var lines = result.StdOut.TrimEnd().Split('\n');
        Assert.Equal(5, lines.Length);
        Assert.Matches(@"^\d\d:\d\d:\d\d\.000 INF \[coordinator alpha/100\] Training 2 epochs$", lines[0]);
        Assert.EndsWith("INF [worker-1 beta/201] Joined", lines[1]);
        Assert.EndsWith("INF [worker-2 beta/202] Joined", lines[2]);
        Assert.EndsWith("WRN [coordinator alpha/100] Worker worker-2 left", lines[3]);
        Assert.EndsWith("DBG [worker-1 beta/201] Shard 7 done", lines[4]);
        Assert.Equal("", result.StdErr); // the half-written line is skipped without a word
    }

    [Theory]
    [InlineData("--level warning", "Worker worker-2 left")]
    [InlineData("--node worker-1 --level info", "Joined")]
    [InlineData("--event shard", "Shard 7 done")]
    public void Should_filter_by_level_node_and_text(string filter, string only)
    {
        var result = CliProcess.Run(work, ["logs", "run", .. filter.Split(' ')]);

        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.EndsWith(only, Assert.Single(result.StdOut.TrimEnd().Split('\n')));
    }

    [Theory]
    [InlineData("logs no-such-run", "run directory not found")]
    [InlineData("logs run --level loud", "--level must be")]
    [InlineData("logs empty", "no log files")]
    public void Should_refuse_bad_input_in_one_line(string arguments, string message)
    {
        Directory.CreateDirectory(Path.Combine(work, "empty"));

        var result = CliProcess.Run(work, arguments.Split(' '));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, Assert.Single(result.StdErr.TrimEnd().Split('\n')));
    }

    public void Dispose() => Directory.Delete(work, recursive: true);
}
