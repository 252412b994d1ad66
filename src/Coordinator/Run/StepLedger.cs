using System.Text.Json;
using System.Text.Json.Serialization;

namespace VaeCluster.Coordinator.Run;

/// <summary>
/// One line of RUN_DIR/ledger.jsonl: a step, who computed it, which shards were reassigned, and whether it was
/// skipped (its loss or gradient was not finite, or a worker could not compute a shard, so nothing was applied) and why.
/// </summary>
public sealed record LedgerEntry(
    [property: JsonPropertyName("step")] long GlobalStep,
    [property: JsonPropertyName("epoch")] int Epoch,
    [property: JsonPropertyName("step_in_epoch")] int StepInEpoch,
    [property: JsonPropertyName("samples")] int Samples,
    [property: JsonPropertyName("workers")] IReadOnlyList<string> Workers,
    [property: JsonPropertyName("reassigned")] IReadOnlyList<int> ReassignedShards,
    [property: JsonPropertyName("skipped")] bool Skipped = false,
    [property: JsonPropertyName("skip_reason"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? SkipReason = null);

/// <summary>
/// The record of every update the coordinator applied, one JSON line per step, written as it is applied, so that
/// "each minibatch applied exactly once" can be checked after the fact. A resumed run first drops the entries
/// past its checkpoint, which it is about to redo.
/// </summary>
public sealed class StepLedger(string path) : IDisposable
{
    private StreamWriter? writer;

    public void Append(LedgerEntry entry)
    {
        writer ??= new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
        writer.WriteLine(JsonSerializer.Serialize(entry));
    }

    public static IReadOnlyList<LedgerEntry> Read(string path) =>
        JsonLines.Read(path).Select(o => o.Deserialize<LedgerEntry>()!).ToList();

    /// <summary>Keeps only the steps before <paramref name="globalStep"/>.</summary>
    public static void TruncateFrom(string path, long globalStep) =>
        JsonLines.Keep(path, o => o.Deserialize<LedgerEntry>()!.GlobalStep < globalStep);

    public void Dispose() => writer?.Dispose();
}
