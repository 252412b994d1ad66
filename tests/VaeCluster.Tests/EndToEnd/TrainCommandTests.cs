using System.Text.Json;
using SkiaSharp;
using VaeCluster.Checkpoints;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>The real CLI in a real process, on a subset of MNIST.</summary>
[Collection(CommandEndToEndCollection.Name)]
public sealed class TrainCommandTests : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("vae-e2e-").FullName;

    [Fact]
    public void Should_train_a_short_run_whose_test_loss_falls_and_leave_every_output()
    {
        var result = CliProcess.Run(work, "train", "--epochs", "3", "--workers", "2", "--train-limit", "3000", "--run", "runs/short");
        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);

        var run = Path.Combine(work, "runs/short");
        var epochs = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([1, 2, 3], epochs.Select(e => e.GetProperty("epoch").GetInt32()));
        var testLoss = epochs.Select(e => e.GetProperty("test_loss").GetDouble()).ToList();
        Assert.True(testLoss[2] < testLoss[0] - 20, $"test loss should fall: {string.Join(", ", testLoss)}");
        Assert.All(epochs, e => Assert.Equal(2, e.GetProperty("workers").GetInt32()));
        Assert.All(epochs, e => Assert.True(e.GetProperty("samples_per_s").GetDouble() > 0));

        var model = SafeTensorsFile.Read(Path.Combine(run, "model.safetensors"));
        Assert.Equal(["fc1.weight", "fc1.bias", "fc21.weight", "fc21.bias", "fc22.weight", "fc22.bias", "fc3.weight", "fc3.bias", "fc4.weight", "fc4.bias"],
            model.Tensors.Select(t => t.Name));
        Assert.Equal([400L, 784L], model.Tensors[0].Shape);
        Assert.Equal([784L, 400L], model.Tensors[8].Shape);

        AssertPng(Path.Combine(run, "samples.png"));
        AssertPng(Path.Combine(run, "reconstructions.png"));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(run, "checkpoints"), "*.ckpt"));
        var clef = File.ReadAllLines(Directory.GetFiles(Path.Combine(run, "logs"), "*.clef").Single());
        Assert.Contains(clef, l => l.Contains("\"Epoch\":3") && l.Contains("\"TestLoss\""));
        Assert.Equal("short", new DirectoryInfo(Path.Combine(work, "runs/latest")).LinkTarget);

        var generated = CliProcess.Run(work, "generate", "--run", "runs/short", "--count", "10", "--out", "ten.png");
        Assert.True(generated.ExitCode == 0, generated.StdErr);
        AssertPng(Path.Combine(work, "ten.png"));
    }

    [Fact]
    public void Should_resume_from_a_mid_epoch_checkpoint_to_the_same_parameters_as_an_uninterrupted_run()
    {
        string[] common = ["--workers", "2", "--train-limit", "1024", "--seed", "3", "--checkpoint-every", "5"];
        var straight = CliProcess.Run(work, ["train", "--epochs", "2", "--run", "straight", .. common]);
        Assert.True(straight.ExitCode == 0, straight.StdErr);

        var first = CliProcess.Run(work, ["train", "--epochs", "1", "--run", "resumed", .. common]);
        Assert.True(first.ExitCode == 0, first.StdErr);
        // Pretend the process died after step 5 of epoch 1: only the mid-epoch checkpoint survives.
        var checkpoints = Path.Combine(work, "resumed", "checkpoints");
        foreach (var f in Directory.GetFiles(checkpoints).Where(f => !f.EndsWith("step-00000005.ckpt"))) File.Delete(f);
        File.Delete(Path.Combine(work, "resumed", "model.safetensors"));

        var resumed = CliProcess.Run(work, "train", "--resume", "resumed", "--epochs", "2");
        Assert.True(resumed.ExitCode == 0, resumed.StdOut + resumed.StdErr);

        var a = SafeTensorsFile.Read(Path.Combine(work, "straight", "model.safetensors"));
        var b = SafeTensorsFile.Read(Path.Combine(work, "resumed", "model.safetensors"));
        foreach (var (ta, tb) in a.Tensors.Zip(b.Tensors))
            Assert.True(ta.Data.SequenceEqual(tb.Data), $"{ta.Name} differs after resume");
        Assert.Equal([1, 2], File.ReadAllLines(Path.Combine(work, "resumed", "metrics.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("epoch").GetInt32()));
    }

    private static void AssertPng(string path)
    {
        using var bitmap = SKBitmap.Decode(path);
        Assert.NotNull(bitmap);
        Assert.True(bitmap.Width > 28 && bitmap.Height > 28, $"{path} is {bitmap.Width}x{bitmap.Height}");
    }

    public void Dispose() => Directory.Delete(work, recursive: true);
}
