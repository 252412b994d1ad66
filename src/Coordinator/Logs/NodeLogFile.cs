using System.Text;

namespace VaeCluster.Coordinator.Logs;

/// <summary>
/// One worker's CLEF file in the run's logs folder, appended to by the coordinator, up to a size limit. Readers
/// (./vae logs --follow) may read it while it grows: every batch ends in whole lines, flushed at once.
/// </summary>
public sealed class NodeLogFile(string path, long maxBytes) : IDisposable
{
    private FileStream? stream;

    public string Path => path;

    /// <summary>The file name for a worker id: letters, digits, '-', '_' and '.' only, never the coordinator's own file.</summary>
    public static string NameFor(string worker)
    {
        var safe = new string(worker.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray()).TrimStart('.');
        if (safe.Length > 100) safe = safe[..100];
        if (safe.Length == 0 || safe == "coordinator") safe = "worker-" + safe;
        return safe + ".clef";
    }

    /// <summary>Appends the lines that fit under the size limit, in order.</summary>
    /// <returns>how many lines did not fit</returns>
    public int Append(IReadOnlyList<string> lines, bool evenOverLimit = false)
    {
        stream ??= new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        int written = 0;
        foreach (var line in lines)
        {
            var bytes = Encoding.UTF8.GetBytes(line + "\n");
            if (!evenOverLimit && stream.Length + bytes.Length > maxBytes) break;
            stream.Write(bytes);
            written++;
        }
        stream.Flush();
        return lines.Count - written;
    }

    public void Dispose() => stream?.Dispose();
}
