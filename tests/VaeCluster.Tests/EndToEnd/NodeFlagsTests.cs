using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>A node's --workers and --transport: a bad value is one line and a non-zero exit, before anything starts.</summary>
public sealed class NodeFlagsTests : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("vae-node-flags-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Theory]
    [InlineData("0")]
    [InlineData("257")]
    public void A_worker_node_refuses_a_number_of_workers_outside_1_to_256(string workers)
    {
        var result = CliProcess.Run(work, "worker", "--seed", "127.0.0.1:4053", "--data", TestData.MnistDir, "--workers", workers);
        AssertOneLine(result, $"--workers must be between 1 and 256 (worker actors on this node), got {workers}");
    }

    [Theory]
    [InlineData("worker")]
    [InlineData("coordinator")]
    public void Either_node_refuses_an_unknown_transport(string node)
    {
        string[] args = node == "worker" ? ["worker", "--seed", "127.0.0.1:4053"] : ["coordinator", "--workers", "1", "--run", Path.Combine(work, "run")];
        var result = CliProcess.Run(work, [.. args, "--transport", "carrier-pigeon", "--data", TestData.MnistDir]);
        AssertOneLine(result, "--transport must be auto or tcp, got 'carrier-pigeon'");
        Assert.False(Directory.Exists(Path.Combine(work, "run")));
    }

    private static void AssertOneLine(CliProcess.Result result, string expected)
    {
        Assert.NotEqual(0, result.ExitCode);
        var lines = (result.StdOut + result.StdErr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, string.Join("\n", lines));
        Assert.Contains(expected, lines[0]);
    }
}
