using System.Diagnostics;
using VaeCluster.Checkpoints;
using VaeCluster.Coordinator.Run;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>
/// One process owns a run directory: while a run trains, a second trainer, an evaluate and an explore are refused in
/// one line that names it, and its ledger stays exact; of two trainers started together exactly one trains; a process
/// killed with -9 leaves no lock behind.
/// </summary>
[Collection(CommandEndToEndCollection.Name)]
public sealed class RunDirectoryLockTests : IDisposable
{
    private const int TrainImages = 256, StepsPerEpoch = 2; // batch 128
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
    private readonly string work = Directory.CreateTempSubdirectory("vae-lock-").FullName;
    private readonly string data;

    public RunDirectoryLockTests() => data = TinyDataset.WriteRandom(Path.Combine(work, "data"), TrainImages);

    public void Dispose() => Directory.Delete(work, recursive: true);

    /// <summary>A run on the tiny data set; with --epochs 1000, one that trains until the test stops it.</summary>
    private string[] Train(RunDirectory run, int epochs) =>
        ["train", "--run", run.Root, "--epochs", $"{epochs}", "--data", data, "--workers", "1", "--http", "off", "--log-every", "1000"];

    [Fact]
    public void A_training_run_refuses_a_resume_an_evaluate_and_an_explore_in_one_line_naming_its_process_and_keeps_an_exact_ledger()
    {
        var run = new RunDirectory(Path.Combine(work, "run"));
        using var owner = CliProcess.Start(work, Train(run, epochs: 1000));
        ClusterNodes.Drain(owner);
        Assert.True(WaitForSteps(run, 1), "the run never trained");

        // explore writes its picture into the run directory unless told otherwise (--out).
        foreach (string[] intruder in new[] { new[] { "train", "--resume", run.Root }, ["evaluate", "--run", run.Root], ["explore", "curves", "--run", run.Root] })
        {
            var refused = CliProcess.Run(work, intruder);
            AssertRefused(refused, $"error: {run.Root} is in use by process {owner.Id} on host {Environment.MachineName} (./vae train); wait for it to end");
        }

        using (var term = Process.Start("kill", ["-TERM", $"{owner.Id}"])) term.WaitForExit();
        Assert.True(owner.WaitForExit(Patience), "SIGTERM did not stop the run");
        Assert.Equal(130, owner.ExitCode);
        // Every step it applied, each once and none missing: the refused resume set none of them aside. (The ledger
        // may run past the newest checkpoint: steps a resume would redo, and set aside itself.)
        var ledger = LedgerSteps(run);
        Assert.Equal(Steps(ledger.Count), ledger);
        Assert.True(ledger.Count >= NewestCheckpointStep(run) && ledger.Count > 0);
        Assert.False(File.Exists(run.RedoneLedger));
        Assert.False(File.Exists(run.Owner), "the owner's note outlived its lock");
    }

    [Fact]
    public void Of_two_trainers_started_together_in_one_run_directory_exactly_one_trains_twenty_times_over()
    {
        // Two rounds at a time: a round is mostly one trainer's start-up on one core, and a machine has two.
        Parallel.For(0, 20, new ParallelOptions { MaxDegreeOfParallelism = 2 }, Race);
    }

    private void Race(int round)
    {
        var run = new RunDirectory(Path.Combine(work, $"race-{round}"));
        // A folder that exists is owned before the trainer reads it; one that does not, when the trainer makes it.
        if (round % 2 == 1) Directory.CreateDirectory(run.Root);
        var racers = new[] { CliProcess.Start(work, Train(run, epochs: 1)), CliProcess.Start(work, Train(run, epochs: 1)) };
        var finishing = racers.Select(p => Task.Run(() => Finish(p))).ToArray();
        var results = finishing.Select(t => t.Result).ToList();
        foreach (var p in racers) p.Dispose();

        var winner = Assert.Single(results, r => r.ExitCode == 0);
        var loser = Assert.Single(results, r => r.ExitCode != 0);
        // Refused at the lock, or, where the winner finished before the loser looked, by the run the winner left. (Refused
        // the instant the winner took the lock, the loser may find no note naming it yet: "in use by another process".)
        Assert.True(loser.ExitCode == 2 && OneLine(loser) is { } line && line.StartsWith($"error: {run.Root} ")
            && (line.Contains(" is in use by ") || line.Contains(" already holds a run")),
            $"round {round}: the loser should be refused in one line:\n{loser.StdOut}{loser.StdErr}\nthe winner said:\n{winner.StdOut}{winner.StdErr}");
        Assert.Equal(Steps(StepsPerEpoch), LedgerSteps(run));
    }

    [Fact]
    public void An_owner_killed_with_sigkill_leaves_no_lock_behind_and_its_run_resumes()
    {
        var run = new RunDirectory(Path.Combine(work, "killed"));
        using (var owner = CliProcess.Start(work, Train(run, epochs: 1000)))
        {
            ClusterNodes.Drain(owner);
            Assert.True(WaitForSteps(run, 1), "the run never trained");
            owner.Kill(); // SIGKILL: no clean-up of any kind
            Assert.True(owner.WaitForExit(Patience));
        }
        Assert.True(File.Exists(run.Owner)); // its note outlived it; the kernel's lock did not

        // To the end of the epoch it was in (or the first, killed before the first checkpoint).
        int epochs = NewestCheckpoint(run)?.Epoch ?? 1;
        var resumed = CliProcess.Run(work, "train", "--resume", run.Root, "--epochs", $"{epochs}");

        Assert.True(resumed.ExitCode == 0, resumed.StdOut + resumed.StdErr);
        Assert.Equal(Steps(epochs * StepsPerEpoch), LedgerSteps(run));
        Assert.False(File.Exists(run.Owner));
    }

    private static void AssertRefused(CliProcess.Result result, string start)
    {
        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}:\n{result.StdOut}{result.StdErr}");
        Assert.Equal("", result.StdOut);
        Assert.StartsWith(start, OneLine(result));
    }

    /// <summary>The process's only line of output, or null where it printed more or less.</summary>
    private static string? OneLine(CliProcess.Result result) =>
        (result.StdOut + result.StdErr).Split('\n', StringSplitOptions.RemoveEmptyEntries) is [var only] ? only : null;

    private static CliProcess.Result Finish(Process process)
    {
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Patience)) process.Kill(entireProcessTree: true);
        return new CliProcess.Result(process.HasExited ? process.ExitCode : -1, stdout.Result, stderr.Result);
    }

    private static bool WaitForSteps(RunDirectory run, int steps) =>
        SpinWait.SpinUntil(() => File.Exists(run.Ledger) && File.ReadLines(run.Ledger).Count() >= steps, Patience);

    private static IEnumerable<long> Steps(long count) => Enumerable.Range(0, (int)count).Select(s => (long)s);

    /// <summary>The ledger's step numbers, line by line.</summary>
    private static List<long> LedgerSteps(RunDirectory run) => StepLedger.Read(run.Ledger).Select(e => e.GlobalStep).ToList();

    private static TrainingCursor? NewestCheckpoint(RunDirectory run)
    {
        var checkpoint = new CheckpointStore(run.Checkpoints, keep: int.MaxValue).LoadNewestGood(_ => { });
        checkpoint?.DisposeTensors();
        return checkpoint?.Cursor;
    }

    private static long NewestCheckpointStep(RunDirectory run) => NewestCheckpoint(run)?.GlobalStep ?? 0;
}
