using System.Text.Json;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>./vae train --precision bf16 through the real CLI (this test machine's CPU must have native bf16).</summary>
[Collection(CommandEndToEndCollection.Name)]
public sealed class PrecisionCommandTests : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("vae-bf16-").FullName;

    [NativeBf16Fact]
    public void Should_train_in_bf16_record_it_and_stay_bit_for_bit_reproducible_across_worker_counts()
    {
        var digests = new List<string>();
        foreach (var workers in new[] { "1", "2" })
        {
            var result = CliProcess.Run(work, "train", "--precision", "bf16", "--deterministic", "--epochs", "1", "--train-limit", "1024",
                "--workers", workers, "--run", $"w{workers}", "--http", "off");
            Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
            digests.Add(ClusterNodes.ParametersDigest(result.StdOut));
        }
        Assert.Equal(digests[0], digests[1]);

        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(work, "w2", "config.json"))).RootElement;
        Assert.Equal("bf16", config.GetProperty("precision").GetString());
        var metrics = JsonDocument.Parse(File.ReadAllLines(Path.Combine(work, "w2", "metrics.jsonl")).Single()).RootElement;
        // Finite and below an untrained model's 784 ln 2 = 543 nats: it learned, and bf16 did not break the loss.
        Assert.InRange(metrics.GetProperty("test_loss").GetDouble(), 100, 500);
    }

    public void Dispose() => Directory.Delete(work, recursive: true);
}

/// <summary>A test that trains in bf16: skipped, saying why, on a CPU without native bf16 (PrecisionTests covers the refusal there).</summary>
public sealed class NativeBf16FactAttribute : FactAttribute
{
    public NativeBf16FactAttribute()
    {
        if (VaeCluster.Model.NativeBf16.Refusal(VaeCluster.Model.Precision.Bf16, VaeCluster.Model.NativeBf16.ThisMachine) is { } why)
            Skip = why;
    }
}
