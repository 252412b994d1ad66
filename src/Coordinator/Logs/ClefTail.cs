using System.Text;

namespace VaeCluster.Coordinator.Logs;

/// <summary>
/// Reads one CLEF file a piece at a time while another process may still be appending to it. Only whole lines
/// (ending in a newline) are parsed; a last line without one is being written and is kept back until it ends.
/// </summary>
public sealed class ClefTail(string path)
{
    private readonly List<byte> partial = [];
    private long position;

    public string Path => path;

    /// <summary>Lines that are not CLEF events (corrupt or foreign), skipped so far.</summary>
    public int Unreadable { get; private set; }

    /// <summary>The events appended since the last call.</summary>
    /// <param name="atEnd">the file is not being written any more: try a last line that lacks its newline too</param>
    public IReadOnlyList<ClefEvent> ReadNew(bool atEnd = false)
    {
        var events = new List<ClefEvent>();
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            if (stream.Length < position)
            {
                position = 0; // the file was replaced or truncated: start over
                partial.Clear();
            }
            stream.Seek(position, SeekOrigin.Begin);
            var buffer = new byte[1 << 16];
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                position += read;
                int start = 0;
                for (int i = 0; i < read; i++)
                {
                    if (buffer[i] != (byte)'\n') continue;
                    partial.AddRange(buffer.AsSpan(start, i - start));
                    Take(events, countFailure: true);
                    start = i + 1;
                }
                partial.AddRange(buffer.AsSpan(start, read - start));
            }
        }
        // An unfinished last line of a file nobody writes any more is most likely cut short: skip it quietly.
        if (atEnd && partial.Count > 0) Take(events, countFailure: false);
        return events;
    }

    private void Take(List<ClefEvent> events, bool countFailure)
    {
        // A newline byte never occurs inside a UTF-8 sequence, so splitting bytes on it is safe.
        var line = Encoding.UTF8.GetString(partial.ToArray());
        partial.Clear();
        if (ClefParser.TryParse(line) is { } e) events.Add(e);
        else if (countFailure && !string.IsNullOrWhiteSpace(line)) Unreadable++;
    }
}
