using VaeCluster.Coordinator.Run;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>--sync-every across worker processes: rounds over TCP and shared memory give one result, resumed or not (SyncEveryNodeLossTests: a node killed mid-round).</summary>
[Collection(CommandEndToEndCollection.Name)]
public sealed class SyncEveryClusterTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);
    private readonly string work = Directory.CreateTempSubdirectory("vae-rounds-cluster-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    // With --wire bf16 both nodes are on TCP (a node's slot follows the order nodes register in, and bf16 rounds only
    // what crosses TCP, so a TCP node and a shared-memory one swapping slots would train differently). Their rounds
    // travel as bfloat16 except those carrying inner moments (checkpoint rounds, and the load after the resume),
    // which travel as float32 holding bf16-rounded values: the same maths either way, which the resume checks.
    [Theory]
    [InlineData("fp32")]
    [InlineData("bf16")]
    public void Two_nodes_one_on_tcp_one_on_shared_memory_give_the_same_parameters_twice_and_after_a_resume_and_every_step_once(string wire)
    {
        string[] common = ["--workers", "2", "--sync-every", "4", "--epochs", "1", "--train-limit", "2560", "--checkpoint-every", "6", "--wire", wire];
        var digests = new List<string>();
        foreach (var name in new[] { "first", "second" })
        {
            using var nodes = new ClusterNodes(work, Path.Combine(work, name));
            var coordinator = nodes.StartCoordinator(common);
            ClusterNodes.Drain(nodes.StartWorker("a", "--transport", "tcp"));
            ClusterNodes.Drain(nodes.StartWorker("b", SecondTransport(wire)));
            string output = ClusterNodes.Finish(coordinator, Patience);
            Assert.True(coordinator.ExitCode == 0, output);
            digests.Add(ClusterNodes.ParametersDigest(output));
            var ledger = StepLedger.Read(nodes.Ledger);
            Assert.Equal(Enumerable.Range(0, 20).Select(s => (long)s), ledger.Select(e => e.GlobalStep));
            Assert.All(ledger, e => Assert.Equal(["a", "b"], e.Workers.Order()));
        }
        Assert.Equal(digests[0], digests[1]);

        // The first run killed in its last round: resumed from step 12 (rounds 12-15 and 16-19 trained again), the
        // inner states travel back to the nodes inside the Round frames (load), and the run ends where it ended.
        var copy = Path.Combine(work, "resumed");
        foreach (var dir in Directory.GetDirectories(Path.Combine(work, "first"), "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(copy, Path.GetRelativePath(Path.Combine(work, "first"), dir)));
        foreach (var file in Directory.GetFiles(Path.Combine(work, "first"), "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(copy, Path.GetRelativePath(Path.Combine(work, "first"), file)));
        var run = new RunDirectory(copy);
        File.Delete(Path.Combine(run.Checkpoints, "step-00000020.ckpt"));
        File.Delete(run.Model);
        using (var nodes = new ClusterNodes(work, copy))
        {
            var coordinator = nodes.ResumeCoordinator("--workers", "2", "--wire", wire);
            ClusterNodes.Drain(nodes.StartWorker("c", "--transport", "tcp"));
            ClusterNodes.Drain(nodes.StartWorker("d", SecondTransport(wire)));
            string output = ClusterNodes.Finish(coordinator, Patience);
            Assert.True(coordinator.ExitCode == 0, output);
            Assert.Contains("from epoch 1, step 12", output);
            Assert.Equal(digests[0], ClusterNodes.ParametersDigest(output));
        }
    }

    private static string[] SecondTransport(string wire) => wire == "bf16" ? ["--transport", "tcp"] : [];
}
