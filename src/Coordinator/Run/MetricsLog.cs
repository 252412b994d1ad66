using System.Text.Json;
using System.Text.Json.Serialization;

namespace VaeCluster.Coordinator.Run;

/// <summary>One line of RUN_DIR/metrics.jsonl: an epoch's figures, losses in nats per image.</summary>
public sealed record EpochMetrics(
    [property: JsonPropertyName("epoch")] int Epoch,
    [property: JsonPropertyName("step")] long Step,
    [property: JsonPropertyName("train_loss")] double TrainLoss,
    [property: JsonPropertyName("test_loss")] double TestLoss,
    [property: JsonPropertyName("samples_per_s")] double SamplesPerSecond,
    [property: JsonPropertyName("train_s")] double TrainSeconds,
    [property: JsonPropertyName("workers")] int Workers);

/// <summary>Appends epoch metrics as JSON lines; a resumed run first drops the lines it is about to redo.</summary>
public sealed class MetricsLog(string path)
{
    public void Append(EpochMetrics metrics)
    {
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write);
        using var writer = new StreamWriter(stream);
        writer.WriteLine(JsonSerializer.Serialize(metrics));
        writer.Flush();
        stream.Flush(flushToDisk: true);
    }

    public IReadOnlyList<EpochMetrics> Read() => !File.Exists(path)
        ? []
        : File.ReadAllLines(path).Where(l => l.Length > 0)
            .Select(l => JsonSerializer.Deserialize<EpochMetrics>(l)!).ToList();

    /// <summary>Keeps only epochs before <paramref name="epoch"/>.</summary>
    public void TruncateFrom(int epoch)
    {
        var kept = Read().Where(m => m.Epoch < epoch).Select(m => JsonSerializer.Serialize(m));
        AtomicFile.WriteAllText(path, string.Concat(kept.Select(l => l + "\n")));
    }
}
