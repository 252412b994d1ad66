using VaeCluster.Coordinator.Run;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>--sync-every across worker processes with a node killed mid-round.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class SyncEveryNodeLossTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);
    private readonly string work = Directory.CreateTempSubdirectory("vae-rounds-loss-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public void A_node_killed_mid_round_has_its_shares_recorded_as_dropped_and_the_run_finishes_with_every_step_once()
    {
        using var nodes = new ClusterNodes(work, Path.Combine(work, "killed"));
        var coordinator = nodes.StartCoordinator("--workers", "2", "--min-workers", "1", "--sync-every", "20", "--epochs", "2",
            "--train-limit", "5120", "--step-timeout", "10");
        var doomed = nodes.StartWorker("doomed");
        ClusterNodes.Drain(doomed);
        ClusterNodes.Drain(nodes.StartWorker("steady"));
        Assert.True(nodes.WaitForSteps(20, Patience), "the cluster never trained");
        doomed.Kill(); // SIGKILL, in the round of steps 20-39 that started as soon as the first was applied
        string output = ClusterNodes.Finish(coordinator, Patience);
        Assert.True(coordinator.ExitCode == 0, output);

        var ledger = StepLedger.Read(nodes.Ledger);
        Assert.Equal(Enumerable.Range(0, 80).Select(s => (long)s), ledger.Select(e => e.GlobalStep));
        var dropped = ledger.Where(e => e.Dropped is not null).ToList();
        Assert.True(dropped.Count > 0, "the kill landed between rounds:\n" + output);
        Assert.All(dropped, e =>
        {
            Assert.Contains("doomed", e.Workers);
            Assert.False(e.Skipped); // the steady node's shares were learned from
            Assert.True(e.Samples < 128);
        });
        Assert.Contains("are dropped", output);
        Assert.All(ledger.SkipWhile(e => e.Dropped is null).SkipWhile(e => e.Dropped is not null), e => Assert.Equal(["steady"], e.Workers));
    }
}
