using System.Text.Json;
using System.Text.Json.Nodes;

namespace VaeCluster.Coordinator.Run;

/// <summary>
/// The JSON-lines files of a run (metrics.jsonl, ledger.jsonl): appended a line at a time, read back whole, and
/// rewritten atomically when a resumed run drops what it is about to redo. A process killed in the middle of an
/// append can leave a torn last line; reading skips it and a rewrite drops it, so a resume never trips on it.
/// </summary>
public static class JsonLines
{
    /// <summary>Appends one line and flushes it to disk.</summary>
    public static void Append(string path, string json)
    {
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        using var writer = new StreamWriter(stream);
        writer.WriteLine(json);
        writer.Flush();
        stream.Flush(flushToDisk: true);
    }

    /// <summary>The file's complete lines, each a JSON object; none when the file does not exist.</summary>
    public static IReadOnlyList<JsonObject> Read(string path) =>
        !File.Exists(path) ? [] : File.ReadAllLines(path).Select(Parse).OfType<JsonObject>().ToList();

    /// <summary>Rewrites the file atomically with only the lines <paramref name="keep"/> accepts, verbatim.</summary>
    public static void Keep(string path, Func<JsonObject, bool> keep)
    {
        if (!File.Exists(path)) return;
        var kept = File.ReadAllLines(path).Where(l => Parse(l) is { } o && keep(o));
        AtomicFile.WriteAllText(path, string.Concat(kept.Select(l => l + "\n")));
    }

    private static JsonObject? Parse(string line)
    {
        if (line.Length == 0) return null;
        try
        {
            return JsonNode.Parse(line) as JsonObject;
        }
        catch (JsonException)
        {
            return null; // a torn line
        }
    }
}
