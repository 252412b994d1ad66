using System.Diagnostics;
using VaeCluster.Coordinator.Run;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>
/// Churn and strangers at once, from the first second, on a machine whose cores another process keeps busy: a
/// deterministic coordinator that waits for 3 workers, one worker SIGKILLed and replaced every 4-7 s (the first
/// before any node could register), and a node with a wrong secret knocking every 5 s. The run must end with the
/// single-process run's parameters, every step in the ledger once, and no process left.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class ChaosTests : IDisposable
{
    private const int TrainLimit = 128 * 300;
    private const int Epochs = 1; // 300 steps: with the wait for the quorum, long enough here for several kills
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan StrangerEvery = TimeSpan.FromSeconds(5);
    private readonly string work = Directory.CreateTempSubdirectory("vae-chaos-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public async Task A_deterministic_cluster_churned_from_its_first_second_on_busy_cores_ends_with_the_single_process_parameters_and_every_step_once()
    {
        string[] common = ["--deterministic", "--epochs", $"{Epochs}", "--train-limit", $"{TrainLimit}", "--checkpoint-every", "50"];
        var calm = CliProcess.Run(work, ["train", "--workers", "3", "--run", Path.Combine(work, "calm"), .. common]);
        Assert.True(calm.ExitCode == 0, calm.StdOut + calm.StdErr);

        string secret = Path.Combine(work, "cluster.secret"), other = Path.Combine(work, "other.secret");
        File.WriteAllText(secret, "correct horse battery staple\n");
        File.WriteAllText(other, "Tr0ub4dor&3, another cluster's secret\n");
        if (OperatingSystem.IsLinux()) foreach (var file in new[] { secret, other }) File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        using var busy = BusyCores.Start();
        using var nodes = new ClusterNodes(work, Path.Combine(work, "chaos"));
        var coordinator = nodes.StartCoordinator(["--workers", "3", "--secret-file", secret, .. common]);
        var output = ClusterNodes.Collect(coordinator);
        var started = new List<Process>();
        var workers = new List<Process>();
        Process StartWorker(string name, params string[] args)
        {
            var p = nodes.StartWorker(name, args);
            ClusterNodes.Drain(p);
            started.Add(p);
            return p;
        }
        for (int i = 1; i <= 3; i++) workers.Add(StartWorker($"w{i}", "--secret-file", secret));

        var random = new Random(11);
        var clock = Stopwatch.StartNew();
        var nextKill = TimeSpan.FromSeconds(0.5 + 0.5 * random.NextDouble()); // before any node can have registered
        var nextStranger = TimeSpan.FromSeconds(0.5);
        int kills = 0, strangers = 0;
        Process? stranger = null;
        const int steps = Epochs * TrainLimit / 128;
        while (!coordinator.WaitForExit(TimeSpan.FromMilliseconds(250)))
        {
            Assert.True(clock.Elapsed < Patience, $"the run did not end within {Patience}; {nodes.LedgerCount()} of {steps} steps applied");
            // The last replacement must have time to join (5-9 s here): one still starting when the run ends is not
            // the run's, and waits for a coordinator to admit it.
            if (clock.Elapsed >= nextKill && nodes.LedgerCount() <= steps * 0.6)
            {
                var victim = workers[random.Next(workers.Count)];
                victim.Kill(); // SIGKILL: no goodbye, no leave
                workers.Remove(victim);
                workers.Add(StartWorker($"w{3 + ++kills}", "--secret-file", secret));
                nextKill = clock.Elapsed + TimeSpan.FromSeconds(4 + 3 * random.NextDouble());
            }
            if (clock.Elapsed >= nextStranger)
            {
                stranger?.Kill();
                stranger = StartWorker($"stranger{++strangers}", "--secret-file", other);
                nextStranger += StrangerEvery;
            }
        }
        stranger?.Kill();
        string log = await output;
        Assert.True(coordinator.ExitCode == 0, log);
        Assert.True(kills >= 3, $"only {kills} workers were killed: the run was too short to show anything");

        // A skipped step (a node that could not compute its shard) changes the parameters: say which and why.
        var skips = StepLedger.Read(nodes.Ledger).Where(e => e.Skipped).Select(e => $"step {e.GlobalStep}: {e.SkipReason}").ToList();
        Assert.True(skips.Count == 0, "steps skipped under churn:\n" + string.Join("\n", skips));
        FaultToleranceTests.AssertEveryStepOnce(StepLedger.Read(nodes.Ledger), steps);
        Assert.Equal(ClusterNodes.ParametersDigest(calm.StdOut), ClusterNodes.ParametersDigest(log));
        Assert.DoesNotContain(StepLedger.Read(nodes.Ledger), e => e.Workers.Any(w => w.StartsWith("stranger")));
        var left = started.Where(p => !p.WaitForExit(TimeSpan.FromSeconds(30))).Select(p => p.Id).ToList();
        Assert.True(left.Count == 0, $"processes still running after the run: {string.Join(", ", left)}");
    }

    /// <summary>
    /// Another process that keeps every core of the machine busy until disposed, at the lowest priority, as a batch
    /// job beside a trainer would: no core is ever idle, so every start-up, join and wake-up of the run's processes
    /// takes its core from it. (At its own priority it would take 90% of the worker's compute threads, which run at
    /// nice 10, ComputePriority: the run would still be right, only slower than the suite can wait for.)
    /// </summary>
    private sealed class BusyCores : IDisposable
    {
        private readonly Process spinner;

        private BusyCores(Process spinner) => this.spinner = spinner;

        public static BusyCores Start()
        {
            string loops = string.Join(" & ", Enumerable.Repeat("while :; do :; done", Environment.ProcessorCount));
            return new BusyCores(Process.Start("nice", ["-n", "19", "sh", "-c", $"{loops}; wait"]));
        }

        public void Dispose()
        {
            spinner.Kill(entireProcessTree: true);
            spinner.WaitForExit();
            spinner.Dispose();
        }
    }
}
