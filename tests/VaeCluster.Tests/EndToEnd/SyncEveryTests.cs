using System.Text.Json.Nodes;
using VaeCluster.Coordinator.Run;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>
/// One short run with --sync-every 4 in one process (2 worker actors, 2 epochs of 10 steps, checkpoints every 3
/// steps, which fall at round ends: steps 4, 8 and 10 of each epoch), kept for the tests below.
/// </summary>
public sealed class ShortRoundsRun : IDisposable
{
    public static readonly string[] Flags =
        ["--epochs", "2", "--workers", "2", "--sync-every", "4", "--train-limit", "1280", "--checkpoint-every", "3", "--seed", "3", "--http", "off"];

    public string Work { get; } = Directory.CreateTempSubdirectory("vae-rounds-").FullName;
    public string Run => Path.Combine(Work, "base");
    public string StdOut { get; }

    public ShortRoundsRun()
    {
        var result = CliProcess.Run(Work, [.. Flags.Prepend("train"), "--run", "base"]);
        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        StdOut = result.StdOut;
    }

    public void Dispose() => Directory.Delete(Work, recursive: true);
}

[Collection(CommandEndToEndCollection.Name)]
public sealed class SyncEveryTests(ShortRoundsRun trained) : IClassFixture<ShortRoundsRun>
{
    private const int Steps = 20;

    [Fact]
    public void The_ledger_holds_every_step_once_each_in_the_round_that_trained_it()
    {
        var ledger = StepLedger.Read(Path.Combine(trained.Run, "ledger.jsonl"));

        Assert.Equal(Enumerable.Range(0, Steps).Select(s => (long)s), ledger.Select(e => e.GlobalStep));
        // Rounds of 4 steps that never cross an epoch's end: 0-3, 4-7, 8-9, then 10-13, 14-17, 18-19.
        long[] rounds = [0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 10, 10, 10, 10, 14, 14, 14, 14, 18, 18];
        Assert.Equal(rounds, ledger.Select(e => e.Round ?? -1));
        Assert.All(ledger, e =>
        {
            Assert.Equal(["local"], e.Workers);
            Assert.Equal(128, e.Samples);
            Assert.False(e.Skipped);
            Assert.Null(e.Dropped);
        });
        // Checkpoints only at round ends: 4, 8 and 10 (the epoch's end), and the last ones kept of 14, 18, 20.
        Assert.Equal(["step-00000014.ckpt", "step-00000018.ckpt", "step-00000020.ckpt"],
            Directory.GetFiles(Path.Combine(trained.Run, "checkpoints")).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void The_same_layout_gives_the_same_parameters_twice()
    {
        var again = CliProcess.Run(trained.Work, [.. ShortRoundsRun.Flags.Prepend("train"), "--run", "again"]);

        Assert.True(again.ExitCode == 0, again.StdOut + again.StdErr);
        Assert.Equal(ClusterNodes.ParametersDigest(trained.StdOut), ClusterNodes.ParametersDigest(again.StdOut));
    }

    [Fact]
    public void A_resume_from_a_round_boundary_mid_epoch_ends_where_the_undisturbed_run_ended()
    {
        var run = Copy("resumed");
        // Killed in the last round (steps 18-19): its checkpoint and export never written.
        File.Delete(Path.Combine(run.Checkpoints, "step-00000020.ckpt"));
        File.Delete(run.Model);

        var resumed = CliProcess.Run(trained.Work, "train", "--resume", run.Root);

        Assert.True(resumed.ExitCode == 0, resumed.StdOut + resumed.StdErr);
        Assert.Equal(ClusterNodes.ParametersDigest(trained.StdOut), ClusterNodes.ParametersDigest(resumed.StdOut));
        Assert.Equal(Enumerable.Range(0, Steps).Select(s => (long)s), StepLedger.Read(run.Ledger).Select(e => e.GlobalStep));
        Assert.Equal([18L, 19L], File.ReadAllLines(run.RedoneLedger).Select(l => (long)JsonNode.Parse(l)!["step"]!));
    }

    [Fact]
    public void Resuming_with_another_sync_every_is_refused_in_one_line()
    {
        var run = Copy("changed");
        var result = CliProcess.Run(trained.Work, "train", "--resume", run.Root, "--sync-every", "8");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--sync-every, --outer-lr and --outer-momentum cannot change when resuming", result.StdErr);
    }

    private RunDirectory Copy(string name)
    {
        var target = Path.Combine(trained.Work, name);
        foreach (var dir in Directory.GetDirectories(trained.Run, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(trained.Run, dir)));
        foreach (var file in Directory.GetFiles(trained.Run, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(target, Path.GetRelativePath(trained.Run, file)));
        return new RunDirectory(target);
    }
}
