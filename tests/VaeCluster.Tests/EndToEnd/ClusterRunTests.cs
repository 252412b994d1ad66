using System.Diagnostics;
using System.Text.Json;
using VaeCluster.Coordinator.Run;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>
/// Cluster mode with real processes on loopback: a coordinator process and worker processes joined over
/// Akka.Cluster, tensors over the data plane. Checked through what the run leaves: metrics, the step ledger, logs.
/// </summary>
[Collection(CommandEndToEndCollection.Name)]
public sealed class ClusterRunTests : IDisposable
{
    private const int TrainLimit = 2560; // 20 steps of 128 per epoch
    private readonly string work = Directory.CreateTempSubdirectory("vae-cluster-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public void A_coordinator_and_two_worker_processes_train_over_tcp_and_apply_every_step_exactly_once()
    {
        int port = ClusterNodes.FreePort(), dataPort = ClusterNodes.FreePort();
        string run = Path.Combine(work, "run");
        // --transport tcp: the socket path, as between machines, although both workers could open shared memory.
        using var coordinator = CliProcess.Start(work, "coordinator", "--workers", "2", "--epochs", "2", "--train-limit", $"{TrainLimit}",
            "--run", run, "--port", $"{port}", "--data-port", $"{dataPort}", "--log-every", "5", "--transport", "tcp");
        var workers = new[] { "alpha", "beta" }.Select(name => CliProcess.Start(work, "worker", "--seed", $"127.0.0.1:{port}",
            "--name", name, "--workers", "1", "--log-dir", Path.Combine(run, "logs"), "--data", TestData.MnistDir)).ToList();
        try
        {
            var output = ClusterNodes.Finish(coordinator, TimeSpan.FromMinutes(3));
            Assert.True(coordinator.ExitCode == 0, output);
            Assert.Equal(2, output.Split('\n').Count(line => line.Contains("connected its data plane") && line.Contains("(tensors over TCP)")));
            foreach (var worker in workers) Assert.True(ClusterNodes.Finish(worker, TimeSpan.FromMinutes(3)) is var o && worker.ExitCode == 0, $"worker exit {worker.ExitCode}: {o}");
        }
        finally
        {
            foreach (var worker in workers) { if (!worker.HasExited) worker.Kill(); worker.Dispose(); }
        }

        AssertLossFell(run);
        var ledger = AssertEveryStepAppliedOnce(run, epochs: 2);
        Assert.Equal(["alpha", "beta"], ledger.SelectMany(e => e.Workers).Distinct().Order());
        Assert.True(File.Exists(Path.Combine(run, "logs", "alpha.clef")) && File.Exists(Path.Combine(run, "logs", "beta.clef")));

        // Each node, each shard: one parameter copy in and one gradient out (2,611,296 bytes each), plus headers.
        const double payload = 2_611_296;
        foreach (var epoch in new MetricsLog(Path.Combine(run, "metrics.jsonl")).Read())
        {
            Assert.Equal(["alpha", "beta"], epoch.Nodes!.Select(n => n.Node).Order());
            Assert.All(epoch.Nodes!, n => Assert.InRange(n.BytesSent / (double)n.Shards, payload, 1.1 * payload));
            Assert.All(epoch.Nodes!, n => Assert.InRange(n.BytesReceived / (double)n.Shards, payload, 1.1 * payload));
            Assert.All(epoch.Nodes!, n => Assert.Equal(1, n.Workers));
        }
    }

    [Fact]
    public void Train_cluster_starts_its_workers_trains_and_leaves_no_worker_process_behind()
    {
        string run = Path.Combine(work, "run");
        var result = CliProcess.Run(work, "train", "--cluster", "--workers", "2", "--epochs", "2", "--train-limit", $"{TrainLimit}", "--run", run);
        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        AssertLossFell(run);
        AssertEveryStepAppliedOnce(run, epochs: 2);
        var pids = WorkerPids(run);
        Assert.Equal(2, pids.Count);
        Assert.All(pids, pid => Assert.False(IsAlive(pid), $"worker process {pid} outlived the run"));
        // A clean finish is quiet: no node warns while the cluster shuts down (the workers print their warnings here
        // too). Akka's "heartbeat interval is growing too large" is not about the shutdown: it says the machine's cores
        // were too busy (other tests beside this one) to send a heartbeat on time, which an operator should see.
        var afterTheEnd = (result.StdOut + result.StdErr).Split('\n').SkipWhile(line => !line.Contains("Training complete")).ToList();
        Assert.NotEmpty(afterTheEnd);
        Assert.DoesNotContain(afterTheEnd, line => (line.Contains(" WRN]") && !line.Contains("heartbeat interval is growing too large"))
            || line.Contains(" ERR]") || line.Contains(" FTL]"));
    }

    [Fact]
    public void Worker_processes_exit_by_themselves_when_train_cluster_is_killed()
    {
        string run = Path.Combine(work, "run");
        using var parent = CliProcess.Start(work, "train", "--cluster", "--workers", "2", "--epochs", "100", "--train-limit", $"{TrainLimit}", "--run", run);
        _ = parent.StandardOutput.ReadToEndAsync();
        _ = parent.StandardError.ReadToEndAsync();
        Assert.True(SpinWait.SpinUntil(() => StepLedger.Read(Path.Combine(run, "ledger.jsonl")).Count >= 5, TimeSpan.FromSeconds(60)), "training never started");
        var pids = WorkerPids(run);
        Assert.Equal(2, pids.Count);

        parent.Kill(); // SIGKILL: no chance to clean up; the workers must notice on their own
        parent.WaitForExit();
        Assert.True(SpinWait.SpinUntil(() => pids.All(pid => !IsAlive(pid)), TimeSpan.FromSeconds(20)), "a worker process outlived its killed parent");
    }


    private static void AssertLossFell(string run)
    {
        var epochs = new MetricsLog(Path.Combine(run, "metrics.jsonl")).Read();
        Assert.Equal(2, epochs.Count);
        Assert.True(epochs[1].TestLoss < epochs[0].TestLoss, $"test loss did not fall: {epochs[0].TestLoss} -> {epochs[1].TestLoss}");
        Assert.True(epochs[0].TestLoss < 250, $"first-epoch test loss {epochs[0].TestLoss} is not a trained model's");
    }

    /// <summary>Global steps 0..N-1 each appear once, and each epoch's steps once, over full batches.</summary>
    private static IReadOnlyList<LedgerEntry> AssertEveryStepAppliedOnce(string run, int epochs)
    {
        const int stepsPerEpoch = TrainLimit / 128;
        var ledger = StepLedger.Read(Path.Combine(run, "ledger.jsonl"));
        Assert.Equal(Enumerable.Range(0, epochs * stepsPerEpoch).Select(i => (long)i), ledger.Select(e => e.GlobalStep));
        for (int epoch = 1; epoch <= epochs; epoch++)
            Assert.Equal(Enumerable.Range(0, stepsPerEpoch), ledger.Where(e => e.Epoch == epoch).Select(e => e.StepInEpoch));
        Assert.All(ledger, e => Assert.Equal(128, e.Samples));
        return ledger;
    }

    /// <summary>The worker processes' ids, from the Node property ("host/pid") of their logs.</summary>
    private static IReadOnlyList<int> WorkerPids(string run) =>
        Directory.GetFiles(Path.Combine(run, "logs"), "worker-*.clef")
            .Select(f => File.ReadLines(f).First())
            .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("Node").GetString()!)
            .Select(node => int.Parse(node[(node.LastIndexOf('/') + 1)..]))
            .ToList();

    private static bool IsAlive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

}
