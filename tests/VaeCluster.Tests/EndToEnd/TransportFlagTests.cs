using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>--transport on coordinator and worker: tcp keeps tensors on the socket even where shared memory would work.</summary>
[Collection(CommandEndToEndCollection.Name)]
public sealed class TransportFlagTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
    private readonly string work = Directory.CreateTempSubdirectory("vae-transport-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Theory]
    [InlineData("worker", "--seed", "127.0.0.1:4053", "--transport", "udp")]
    [InlineData("coordinator", "--run", "r", "--transport", "shm")]
    public void Should_refuse_an_unknown_transport_in_one_line(params string[] args)
    {
        var result = CliProcess.Run(work, args);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--transport must be auto or tcp", Assert.Single(result.StdErr.TrimEnd().Split('\n')));
        Assert.False(Directory.Exists(Path.Combine(work, "r")));
    }

    [Fact]
    public void Should_move_tensors_over_tcp_on_one_machine_when_the_worker_or_the_coordinator_says_tcp()
    {
        string[] quick = ["--epochs", "1", "--train-limit", "640"];
        using (var nodes = new ClusterNodes(work, Path.Combine(work, "worker-says")))
        {
            var coordinator = nodes.StartCoordinator(["--workers", "2", .. quick]);
            ClusterNodes.Drain(nodes.StartWorker("socket", "--transport", "tcp"));
            ClusterNodes.Drain(nodes.StartWorker("shared"));
            string output = ClusterNodes.Finish(coordinator, Patience);
            Assert.True(coordinator.ExitCode == 0, output);
            Assert.Matches(@"Worker node socket with 1 workers connected its data plane from .*\(tensors over TCP\)", output);
            Assert.Matches(@"Worker node shared with 1 workers connected its data plane from .*\(tensors through shared memory\)", output);
        }
        using (var nodes = new ClusterNodes(work, Path.Combine(work, "coordinator-says")))
        {
            var coordinator = nodes.StartCoordinator(["--workers", "1", "--transport", "tcp", .. quick]);
            ClusterNodes.Drain(nodes.StartWorker("any"));
            string output = ClusterNodes.Finish(coordinator, Patience);
            Assert.True(coordinator.ExitCode == 0, output);
            Assert.Matches(@"Worker node any with 1 workers connected its data plane from .*\(tensors over TCP\)", output);
        }
    }
}
