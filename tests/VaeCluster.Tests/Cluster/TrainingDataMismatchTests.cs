using VaeCluster.Data;
using VaeCluster.Tests.EndToEnd;
using Xunit;

namespace VaeCluster.Tests.Cluster;

/// <summary>
/// A worker node whose training set has the coordinator's count but other contents (the same images in reverse
/// order) would train the run on the wrong images without a word; it must be refused, both nodes saying why.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class TrainingDataMismatchTests : IDisposable
{
    private const int TrainImages = 256;
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
    private readonly string work = Directory.CreateTempSubdirectory("vae-data-mismatch-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public void A_worker_with_the_same_count_of_other_training_data_is_refused_and_exits_non_zero_both_sides_saying_why()
    {
        var pixels = new byte[TrainImages * IdxFile.ImagePixels];
        new Random(7).NextBytes(pixels);
        var labels = Enumerable.Range(0, TrainImages).Select(i => (byte)(i % 10)).ToArray();
        string ours = TinyDataset.Write(Path.Combine(work, "ours"), pixels, labels);
        var reversed = Enumerable.Range(0, TrainImages).Reverse()
            .SelectMany(i => pixels.AsSpan(i * IdxFile.ImagePixels, IdxFile.ImagePixels).ToArray()).ToArray();
        string theirs = TinyDataset.Write(Path.Combine(work, "theirs"), reversed, labels.Reverse().ToArray());

        using var nodes = new ClusterNodes(work, Path.Combine(work, "run"));
        var coordinator = nodes.StartCoordinator("--data", ours, "--workers", "1", "--epochs", "1");
        var stranger = CliProcess.Start(work, ["worker", "--seed", $"127.0.0.1:{nodes.Port}", "--name", "stranger",
            "--log-dir", Path.Combine(nodes.Run, "logs"), "--data", theirs]);
        string refused = ClusterNodes.Finish(stranger, Patience);
        Assert.True(stranger.ExitCode == 1, refused);
        const string why = "worker stranger's training data differ from the coordinator's (sha256 ";
        Assert.Single(refused.Split('\n'), line => line.Contains(why) && line.Contains("give both the same --data"));

        // The coordinator said so too, and goes on to train with a worker that holds its data.
        var proper = CliProcess.Start(work, ["worker", "--seed", $"127.0.0.1:{nodes.Port}", "--name", "proper",
            "--log-dir", Path.Combine(nodes.Run, "logs"), "--data", ours]);
        ClusterNodes.Drain(proper);
        string output = ClusterNodes.Finish(coordinator, Patience);
        Assert.True(coordinator.ExitCode == 0, output);
        Assert.Contains(why, output);
        Assert.True(proper.WaitForExit(Patience) && proper.ExitCode == 0);
        proper.Dispose();
        stranger.Dispose();
    }
}
