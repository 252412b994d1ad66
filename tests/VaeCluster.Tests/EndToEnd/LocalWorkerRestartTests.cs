using System.Diagnostics;
using System.Text.RegularExpressions;
using VaeCluster.Coordinator.Run;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>
/// ./vae train --cluster starts its worker processes again when they die (--max-restarts), and says so at once;
/// with the restarts used up and too few workers left, the run ends in one line instead of waiting for ever.
/// --min-workers 2 pauses the run while a worker is down, so the timing of the kill does not matter.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class LocalWorkerRestartTests : IDisposable
{
    private const int TrainLimit = 12800, Epochs = 2; // 200 steps
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);
    private readonly string work = Directory.CreateTempSubdirectory("vae-restarts-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    // One run shows both: restarted after its first death, given up after its second (--max-restarts 1).
    [Fact]
    public void A_killed_worker_process_is_restarted_under_its_name_then_given_up_and_the_run_left_without_enough_workers_ends_in_one_line()
    {
        string run = Path.Combine(work, "run");
        using var train = StartRun(run, "--max-restarts", "1");
        int killedAt = KillWorker(train, run, "worker-2", afterSteps: 5);
        // The new worker-2 trains before it is killed in turn.
        Assert.True(SpinWait.SpinUntil(() => Ledger(run).Skip(killedAt + 1).Any(e => e.Workers.Contains("worker-2")) || train.HasExited, Patience),
            "the restarted worker never trained");
        int killedAgainAt = KillWorker(train, run, "worker-2", afterSteps: killedAt + 1);

        string output = ClusterNodes.Finish(train, Patience); // the run must not wait for ever for a second worker
        Assert.True(train.ExitCode == 1, output);
        Assert.Matches(@"Worker process worker-2 exited with code 137 \(SIGKILL\); restarting it in 1 s \(restart 1 of 1\)", output);
        Assert.Contains("Restarted worker process worker-2", output);
        Assert.Matches(@"Worker process worker-2 exited with code 137 \(SIGKILL\) and has died 2 times; giving up on it \(--max-restarts 1\)", output);
        Assert.Single(output.Split('\n'), line => line.Contains(
            "Training stopped: worker process worker-2 died more than --max-restarts 1 times, and the run needs 2 (--min-workers); " +
            $"continue from the last checkpoint with: ./vae train --cluster --resume {run}"));
        var ledger = Ledger(run);
        Assert.Equal(Enumerable.Range(0, ledger.Count).Select(i => (long)i), ledger.Select(e => e.GlobalStep)); // every applied step once
        Assert.All(ledger, e => Assert.False(e.Skipped));
        Assert.InRange(ledger.Count, killedAgainAt, Epochs * TrainLimit / 128 - 1); // stopped early
    }

    private Process StartRun(string run, params string[] args) => CliProcess.Start(work,
    [
        "train", "--cluster", "--workers", "2", "--min-workers", "2", "--epochs", $"{Epochs}", "--train-limit", $"{TrainLimit}",
        "--run", run, "--http", "off", .. args,
    ]);

    /// <summary>SIGKILLs the run's worker process of this name once the run has trained this many steps; returns the steps applied by then.</summary>
    private static int KillWorker(Process train, string run, string name, int afterSteps)
    {
        Assert.True(SpinWait.SpinUntil(() => Steps(run) >= afterSteps || train.HasExited, Patience), "the run never trained");
        Assert.False(train.HasExited, "the run ended before a worker could be killed");
        using var worker = Process.GetProcessById(WorkerChild(train.Id, name));
        int steps = Steps(run);
        worker.Kill(); // SIGKILL
        return steps;
    }

    /// <summary>The worker process the run started as --name <paramref name="name"/>: a child of the run that says so on its command line.</summary>
    private static int WorkerChild(int parent, string name)
    {
        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), out int pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(proc, "stat")); // "pid (comm) state ppid ...": comm may hold spaces
                if (int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]) != parent) continue;
                var args = File.ReadAllText(Path.Combine(proc, "cmdline")).Split('\0');
                if (args.Contains("worker") && args.Contains("--exit-with-parent") && args.SkipWhile(a => a != "--name").Skip(1).FirstOrDefault() == name)
                    return pid;
            }
            catch (IOException) { /* ended while being read */ }
        }
        throw new InvalidOperationException($"no worker process {name} under process {parent}");
    }

    private static int Steps(string run) => Ledger(run).Count;

    private static IReadOnlyList<LedgerEntry> Ledger(string run)
    {
        try { return StepLedger.Read(Path.Combine(run, "ledger.jsonl")); }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException) { return []; } // not there yet, or a line being written
    }
}
