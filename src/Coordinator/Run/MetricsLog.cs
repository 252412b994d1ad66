using System.Text.Json;
using System.Text.Json.Nodes;
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

/// <summary>
/// Appends JSON lines: one per epoch, and event lines ({"event": "evaluate", "epoch": E, ...}) that describe the
/// model as it was after epoch E. A resumed run first drops the lines of the epochs it is about to redo.
/// </summary>
public sealed class MetricsLog(string path)
{
    public void Append(EpochMetrics metrics) => AppendLine(JsonSerializer.Serialize(metrics));

    public void AppendLine(string json)
    {
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write);
        using var writer = new StreamWriter(stream);
        writer.WriteLine(json);
        writer.Flush();
        stream.Flush(flushToDisk: true);
    }

    /// <summary>The epoch lines; event lines are skipped.</summary>
    public IReadOnlyList<EpochMetrics> Read() => Lines()
        .Where(l => !IsEvent(l))
        .Select(l => JsonSerializer.Deserialize<EpochMetrics>(l)!).ToList();

    /// <summary>Keeps only lines about epochs before <paramref name="epoch"/>, verbatim (event lines keep all their fields).</summary>
    public void TruncateFrom(int epoch)
    {
        var kept = Lines().Where(l => EpochOf(l) is not { } e || e < epoch);
        AtomicFile.WriteAllText(path, string.Concat(kept.Select(l => l + "\n")));
    }

    private IEnumerable<string> Lines() => File.Exists(path) ? File.ReadAllLines(path).Where(l => l.Length > 0) : [];

    private static bool IsEvent(string line) => JsonNode.Parse(line) is JsonObject o && o.ContainsKey("event");

    private static int? EpochOf(string line) =>
        JsonNode.Parse(line) is JsonObject o && o["epoch"] is JsonValue v && v.TryGetValue<int>(out var e) ? e : null;
}
