using System.Globalization;
using System.Text.RegularExpressions;
using VaeCluster.Coordinator.Run;
using VaeCluster.Model;
using VaeCluster.Tests.EndToEnd;
using Xunit;
using Xunit.Abstractions;

namespace VaeCluster.Tests.Netlab;

/// <summary>
/// The cluster across real network stacks (deploy/netlab.sh): a coordinator and worker machines, each with its own
/// addresses, hostname and /dev/shm, so tensors travel over TCP as between real machines. Needs root.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class NetlabClusterTests(ITestOutputHelper output) : IDisposable
{
    // Machine 3's node hosts a pool of two worker actors (./vae worker --workers 2); the others one each. The
    // coordinator's --workers counts actors, so it waits for 1 + 2.
    private const int ActorsOnMachine3 = 2;
    private const int WorkerActors = 1 + ActorsOnMachine3;
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
    private readonly string work = Directory.CreateTempSubdirectory("vae-netlab-").FullName;
    private LabCluster? nodes;

    public void Dispose()
    {
        if (nodes is not null) output.WriteLine(nodes.Transcript());
        Directory.Delete(work, recursive: true);
    }

    [NetlabFact]
    public void Three_machines_train_over_tcp_apply_every_step_once_and_every_nodes_log_reaches_the_run()
    {
        using var lab = Netlab.Up(machines: 3);
        var nodes = this.nodes = new LabCluster(lab, work);
        var coordinator = nodes.StartCoordinator(1, "--workers", $"{WorkerActors}", "--epochs", "2", "--train-limit", "1280");
        var w2 = nodes.StartWorker(2, "w2");
        var w3 = nodes.StartWorker(3, "w3", actors: ActorsOnMachine3);
        Assert.True(coordinator.WaitForExit(Patience), "the run did not finish:\n" + coordinator.Output);
        Assert.True(coordinator.ExitCode == 0, coordinator.Output);
        Assert.True(w2.WaitForExit(TimeSpan.FromSeconds(30)) && w3.WaitForExit(TimeSpan.FromSeconds(30)), "workers did not exit after the run");

        // Separate machines: no worker can open the coordinator's shared memory.
        Assert.Contains($"Worker node w2 with 1 workers connected its data plane from {lab.Address(2)}", coordinator.Output);
        Assert.Contains($"Worker node w3 with {ActorsOnMachine3} workers connected its data plane from {lab.Address(3)}", coordinator.Output);
        Assert.Equal(2, Regex.Matches(coordinator.Output, @"connected its data plane from .*\(tensors over TCP\)").Count);
        AssertEveryStepOnce(StepLedger.Read(nodes.Ledger), steps: 20);
        Assert.Equal(["w2", "w3"], StepLedger.Read(nodes.Ledger).SelectMany(e => e.Workers).Distinct().Order());
        AssertOneParameterCopyInAndOneGradientOutPerShard(coordinator.Output);

        // Every node's events in the run, in time order; each worker also kept its own file on its machine.
        var logs = CliProcess.Run(work, "logs", nodes.Run);
        Assert.True(logs.ExitCode == 0, logs.StdErr);
        var lines = logs.StdOut.TrimEnd().Split('\n');
        Assert.Contains(lines, l => l.Contains($"[coordinator {lab.Hostname(1)}/"));
        Assert.Contains(lines, l => l.Contains($"[w2 {lab.Hostname(2)}/") && l.Contains("joined"));
        Assert.Contains(lines, l => l.Contains($"[w3 {lab.Hostname(3)}/") && l.Contains("joined"));
        var times = lines.Where(l => Regex.IsMatch(l, @"^\d\d:\d\d:\d\d\.\d{3} ")).Select(l => TimeSpan.ParseExact(l[..12], @"hh\:mm\:ss\.fff", CultureInfo.InvariantCulture)).ToList();
        Assert.True(times.Zip(times.Skip(1)).All(p => p.First <= p.Second), "not in time order:\n" + logs.StdOut);
        Assert.Contains("joined", File.ReadAllText(Path.Combine(nodes.LocalLogs(2), "w2.clef")));
    }

    [NetlabFact]
    public void A_worker_machine_killed_mid_run_is_replaced_by_another_machine_and_every_step_is_applied_once()
    {
        using var lab = Netlab.Up(machines: 4, rate: "1gbit");
        var nodes = this.nodes = new LabCluster(lab, work);
        var coordinator = nodes.StartCoordinator(1, "--workers", $"{WorkerActors}", "--min-workers", $"{WorkerActors}",
            "--epochs", "2", "--train-limit", "2560", "--step-timeout", "5");
        var doomed = nodes.StartWorker(2, "doomed");
        nodes.StartWorker(3, "w3", actors: ActorsOnMachine3);
        Assert.True(nodes.WaitForSteps(5, Patience), "the cluster never trained:\n" + coordinator.Output);
        doomed.Kill();
        nodes.StartWorker(4, "replacement");
        Assert.True(coordinator.WaitForExit(Patience), "the run did not finish:\n" + coordinator.Output);
        Assert.True(coordinator.ExitCode == 0, coordinator.Output);

        var ledger = StepLedger.Read(nodes.Ledger);
        AssertEveryStepOnce(ledger, steps: 40);
        Assert.Contains(ledger, e => e.Workers.Contains("doomed"));
        Assert.Contains(ledger, e => e.Workers.Contains("replacement"));
        Assert.DoesNotContain(ledger.SkipWhile(e => !e.Workers.Contains("replacement")), e => e.Workers.Contains("doomed"));
    }

    [NetlabFact]
    public void A_machine_cut_off_for_20_seconds_rejoins_while_the_others_train_on_and_every_step_is_applied_once()
    {
        using var lab = Netlab.Up(machines: 3, rate: "1gbit");
        var nodes = this.nodes = new LabCluster(lab, work);
        // Open-ended: the test stops the run (SIGTERM) once it has seen what it came for. The workers then wait for a
        // coordinator to resume the run, as they should; the lab's end stops them.
        var coordinator = nodes.StartCoordinator(1, "--workers", $"{WorkerActors}", "--epochs", "1000", "--train-limit", "6400",
            "--step-timeout", "3", "--checkpoint-every", "1000");
        var cut = nodes.StartWorker(2, "cut");
        nodes.StartWorker(3, "steady", actors: ActorsOnMachine3);
        Assert.True(nodes.WaitForSteps(5, Patience), "the cluster never trained:\n" + coordinator.Output);

        lab.Link(2, up: false);
        int atCut = nodes.LedgerNow().Count;
        Thread.Sleep(TimeSpan.FromSeconds(20));
        int atRestore = nodes.LedgerNow().Count;
        lab.Link(2, up: true);
        Assert.False(cut.HasExited, "the cut-off worker node exited instead of waiting to rejoin:\n" + cut.Output);
        bool rejoined = LabCluster.WaitFor(() => nodes.LedgerNow().Skip(atRestore).Any(e => e.Workers.Contains("cut")), TimeSpan.FromSeconds(90));
        Assert.True(rejoined, "the cut-off node never computed again:\n" + cut.Output);
        Assert.True(nodes.WaitForSteps(nodes.LedgerNow().Count + 3, Patience), "the run stalled after the rejoin:\n" + coordinator.Output);
        // What the node logged while cut off was queued there and reaches the run once it is back.
        string forwarded = Path.Combine(nodes.Run, "logs", "cut.clef");
        Assert.True(LabCluster.WaitFor(() => File.Exists(forwarded) && File.ReadAllText(forwarded).Contains("lost the coordinator"), TimeSpan.FromSeconds(30)),
            "the cut-off node's events from while it was cut off never reached the run");

        coordinator.Terminate();
        Assert.True(coordinator.WaitForExit(TimeSpan.FromSeconds(60)), "the coordinator did not stop on SIGTERM:\n" + coordinator.Output);
        Assert.True(coordinator.ExitCode == 130, coordinator.Output);

        var ledger = StepLedger.Read(nodes.Ledger);
        AssertEveryStepOnce(ledger, steps: ledger.Count);
        Assert.True(atRestore - atCut >= 10, $"only {atRestore - atCut} steps while machine 2 was cut off:\n{coordinator.Output}");
        Assert.Contains(ledger.Skip(atCut).Take(atRestore - atCut), e => e.Workers.SequenceEqual(["steady"]));
    }

    /// <summary>The coordinator's end-of-run line per worker: "N shards, ... X MB moved": one parameter copy and one gradient each.</summary>
    private static void AssertOneParameterCopyInAndOneGradientOutPerShard(string output)
    {
        using var model = new Vae(ModelShape.Reference);
        double copyMb = model.NamedParameters().Sum(p => p.Item2.NumberOfElements) * sizeof(float) / 1e6;
        var moved = Regex.Matches(output, @"Data plane to worker (\S+): (\d+) shards, .* ([\d.]+) MB moved");
        Assert.Equal(2, moved.Count);
        foreach (Match m in moved)
        {
            double perShard = double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture) / int.Parse(m.Groups[2].Value);
            Assert.True(Math.Abs(perShard - 2 * copyMb) <= 0.1 * 2 * copyMb, $"{m.Groups[1].Value} moved {perShard:F2} MB per shard, not about {2 * copyMb:F2}");
        }
    }

    private static void AssertEveryStepOnce(IReadOnlyList<LedgerEntry> ledger, int steps)
    {
        Assert.Equal(Enumerable.Range(0, steps).Select(i => (long)i), ledger.Select(e => e.GlobalStep));
        Assert.All(ledger, e => Assert.Equal(128, e.Samples));
        Assert.All(ledger, e => Assert.False(e.Skipped));
    }
}
