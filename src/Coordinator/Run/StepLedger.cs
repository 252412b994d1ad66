using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace VaeCluster.Coordinator.Run;

/// <summary>
/// One line of RUN_DIR/ledger.jsonl: a step, who computed it, which shards were reassigned, and whether it was
/// skipped (its loss or gradient was not finite, or a worker could not compute a shard, so nothing was applied) and why.
/// With --sync-every above 1: the round the step was trained in, and the shards whose node was lost during the round
/// (dropped: not learned from).
/// </summary>
public sealed record LedgerEntry(
    [property: JsonPropertyName("step")] long GlobalStep,
    [property: JsonPropertyName("epoch")] int Epoch,
    [property: JsonPropertyName("step_in_epoch")] int StepInEpoch,
    [property: JsonPropertyName("samples")] int Samples,
    [property: JsonPropertyName("workers")] IReadOnlyList<string> Workers,
    [property: JsonPropertyName("reassigned")] IReadOnlyList<int> ReassignedShards,
    [property: JsonPropertyName("skipped")] bool Skipped = false,
    [property: JsonPropertyName("skip_reason"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? SkipReason = null,
    [property: JsonPropertyName("round"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Round = null,
    [property: JsonPropertyName("dropped"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<int>? Dropped = null);

/// <summary>
/// The record of every update the coordinator applied, one JSON line per step, written as it is applied, so that
/// "each minibatch applied exactly once" can be checked after the fact. A resumed run first sets aside the entries
/// past its checkpoint, which it is about to redo: they move to the redone ledger, so the ledger itself always
/// equals the history the parameters went through.
/// </summary>
public sealed class StepLedger(string path) : IDisposable
{
    /// <summary>The field added to a line set aside: the step the resume went back to.</summary>
    public const string ResumedFromField = "resumed_from_step";

    private StreamWriter? writer;

    public void Append(LedgerEntry entry)
    {
        writer ??= new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
        writer.WriteLine(JsonSerializer.Serialize(entry));
    }

    public static IReadOnlyList<LedgerEntry> Read(string path) =>
        JsonLines.Read(path).Select(o => o.Deserialize<LedgerEntry>()!).ToList();

    /// <summary>
    /// Moves the steps from <paramref name="globalStep"/> on out of the ledger into <paramref name="redonePath"/>,
    /// each marked with the step the run resumed from. They are appended there first and only then dropped from the
    /// ledger: a kill in between leaves them in both places, never in neither (a later resume moves them again).
    /// </summary>
    /// <returns>How many steps were set aside.</returns>
    public static int SetAsideFrom(string path, string redonePath, long globalStep)
    {
        var redone = JsonLines.Read(path).Where(o => StepOf(o) >= globalStep).ToList();
        foreach (var line in redone)
        {
            line[ResumedFromField] = globalStep;
            JsonLines.Append(redonePath, line.ToJsonString());
        }
        JsonLines.Keep(path, o => StepOf(o) < globalStep);
        return redone.Count;
    }

    private static long StepOf(JsonObject line) => line.Deserialize<LedgerEntry>()!.GlobalStep;

    public void Dispose() => writer?.Dispose();
}
