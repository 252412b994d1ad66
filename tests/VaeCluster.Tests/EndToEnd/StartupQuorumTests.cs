using VaeCluster.Coordinator.Run;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>Nodes that come and go before the run reaches --workers: the coordinator waits on and trains, never hangs.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class StartupQuorumTests : IDisposable
{
    private const int TrainLimit = 1280; // 10 steps of 128
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
    private readonly string work = Directory.CreateTempSubdirectory("vae-quorum-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public async Task A_node_killed_before_the_quorum_is_reached_is_replaced_and_the_run_trains_every_step_once()
    {
        using var nodes = new ClusterNodes(work, Path.Combine(work, "run"));
        var coordinator = nodes.StartCoordinator("--workers", "3", "--epochs", "1", "--train-limit", $"{TrainLimit}");
        var output = ClusterNodes.Collect(coordinator);
        var early = nodes.StartWorker("early", "--workers", "2");
        ClusterNodes.Drain(early);
        string coordinatorLog = Path.Combine(nodes.Run, "logs", "coordinator.clef");
        Assert.True(SpinWait.SpinUntil(() => Registered(coordinatorLog, "early"), Patience), "the first node never registered");
        early.Kill(); // SIGKILL: 2 of 3 worker actors registered, then gone

        foreach (var name in new[] { "late1", "late2" }) ClusterNodes.Drain(nodes.StartWorker(name, "--workers", "2"));
        Assert.True(coordinator.WaitForExit(Patience), "the coordinator did not finish after the replacements joined");
        string log = await output;
        Assert.True(coordinator.ExitCode == 0, log);
        Assert.DoesNotContain("DeathPact", log);
        Assert.Contains("Worker node early left", log);
        var ledger = StepLedger.Read(nodes.Ledger);
        FaultToleranceTests.AssertEveryStepOnce(ledger, steps: TrainLimit / 128);
        Assert.DoesNotContain(ledger, e => e.Workers.Contains("early"));
    }

    private static bool Registered(string clef, string worker)
    {
        try
        {
            using var reader = new StreamReader(new FileStream(clef, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            return reader.ReadToEnd().Split('\n').Any(line => line.Contains("registered with") && line.Contains($"\"{worker}\""));
        }
        catch (IOException) { return false; }
    }
}
