using VaeCluster.Coordinator.Run;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>--wire fp32|bf16: bfloat16 halves what crosses TCP; what cannot work is refused in one line.</summary>
[Collection(CommandEndToEndCollection.Name)]
public sealed class WireFlagTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
    private readonly string work = Directory.CreateTempSubdirectory("vae-wire-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    public static TheoryData<string[], string> BadInput => new()
    {
        { ["coordinator", "--run", "r", "--wire", "fp8"], "--wire must be fp32 or bf16, got 'fp8'; use bf16 to halve the bytes on slow links" },
        { ["worker", "--seed", "127.0.0.1:4053", "--wire", "fp8"], "--wire must be fp32 or bf16, got 'fp8'" },
        { ["train", "--cluster", "--run", "r", "--wire", "fp8"], "--wire must be fp32 or bf16, got 'fp8'" },
        { ["train", "--run", "r", "--wire", "bf16"], "--wire sets how a cluster's workers get their tensors, and this run has none; add --cluster" },
        { ["coordinator", "--run", "r", "--deterministic", "--wire", "bf16"], "--wire bf16 cannot be combined with --deterministic" },
        { ["train", "--cluster", "--run", "r", "--deterministic", "--wire", "bf16"], "--wire bf16 cannot be combined with --deterministic" },
    };

    [Theory]
    [MemberData(nameof(BadInput))]
    public void Refuses_what_cannot_work_in_one_line_writing_nothing(string[] args, string expected)
    {
        var result = CliProcess.Run(work, args);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, Assert.Single(result.StdErr.TrimEnd().Split('\n')));
        Assert.False(Directory.Exists(Path.Combine(work, "r")));
    }

    [Fact]
    public void Bf16_over_tcp_moves_half_the_bytes_per_step_and_node_and_trains()
    {
        string run = Path.Combine(work, "run");
        var result = CliProcess.Run(work, "train", "--cluster", "--transport", "tcp", "--wire", "bf16", "--workers", "2",
            "--epochs", "1", "--train-limit", "1280", "--run", run);
        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);

        string log = File.ReadAllText(Path.Combine(run, "logs", "coordinator.clef"));
        Assert.Contains("Tensors travel over TCP as {Wire}", log);
        Assert.Equal(2, log.Split('\n').Count(line => line.Contains("connected its data plane") && line.Contains("\"Wire\":\"bf16\"")));

        // Each node, each shard: the parameters in and a gradient out, 652,824 values of 2 bytes each (fp32: 2,611,296).
        const double bf16Payload = 1_305_648;
        var epoch = Assert.Single(new MetricsLog(Path.Combine(run, "metrics.jsonl")).Read());
        Assert.True(double.IsFinite(epoch.TrainLoss) && double.IsFinite(epoch.TestLoss));
        Assert.Equal(2, epoch.Nodes!.Count);
        Assert.All(epoch.Nodes!, n => Assert.InRange(n.BytesSent / (double)n.Shards, bf16Payload, 1.05 * bf16Payload));
        Assert.All(epoch.Nodes!, n => Assert.InRange(n.BytesReceived / (double)n.Shards, bf16Payload, 1.05 * bf16Payload));
    }

    [Fact]
    public void A_worker_started_with_another_wire_is_refused_both_sides_saying_why()
    {
        using var nodes = new ClusterNodes(work, Path.Combine(work, "run"));
        var coordinator = nodes.StartCoordinator("--wire", "bf16", "--workers", "1", "--epochs", "1", "--train-limit", "640");
        ClusterNodes.Drain(coordinator);
        var odd = nodes.StartWorker("odd", "--wire", "fp32");
        string output = ClusterNodes.Finish(odd, Patience);
        Assert.True(odd.ExitCode == 1, output);
        const string why = "worker odd was started with --wire fp32, the coordinator sends bf16: give every node the same --wire";
        Assert.Single(output.Split('\n'), line => line.Contains(why));
        string coordinatorLog = Path.Combine(nodes.Run, "logs", "coordinator.clef");
        Assert.True(SpinWait.SpinUntil(() => File.Exists(coordinatorLog) && ReadShared(coordinatorLog).Contains(why), TimeSpan.FromSeconds(30)),
            "the coordinator did not log the refusal");
        odd.Dispose();
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(stream).ReadToEnd();
    }
}
