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
    [property: JsonPropertyName("workers")] int Workers,
    [property: JsonPropertyName("nodes"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<NodeFigures>? Nodes = null);

/// <summary>
/// Appends JSON lines: one per epoch, and event lines ({"event": "evaluate", "epoch": E, ...}) that describe the
/// model as it was after epoch E. A resumed run first drops the lines of the epochs it is about to redo.
/// </summary>
public sealed class MetricsLog(string path)
{
    public void Append(EpochMetrics metrics) => AppendLine(JsonSerializer.Serialize(metrics));

    public void AppendLine(string json) => JsonLines.Append(path, json);

    /// <summary>The epoch lines; event lines are skipped.</summary>
    public IReadOnlyList<EpochMetrics> Read() => JsonLines.Read(path)
        .Where(o => !o.ContainsKey("event"))
        .Select(o => o.Deserialize<EpochMetrics>()!).ToList();

    /// <summary>Keeps only lines about epochs before <paramref name="epoch"/>, verbatim (event lines keep all their fields).</summary>
    public void TruncateFrom(int epoch) => JsonLines.Keep(path, o => EpochOf(o) is not { } e || e < epoch);

    private static int? EpochOf(JsonObject line) =>
        line["epoch"] is JsonValue v && v.TryGetValue<int>(out var e) ? e : null;
}
