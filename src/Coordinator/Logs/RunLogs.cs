namespace VaeCluster.Coordinator.Logs;

/// <summary>
/// The logs of every node of a run (RUN_DIR/logs/*.clef, one file per node process), merged into one stream in
/// time order. Files that appear later (a node that joins) are picked up as they come.
/// </summary>
public sealed class RunLogs(string logsFolder)
{
    private readonly SortedDictionary<string, ClefTail> tails = new(StringComparer.Ordinal);

    public int Files => tails.Count;

    public int Unreadable => tails.Values.Sum(t => t.Unreadable);

    /// <summary>Every event written so far, in time order; equal times keep file-name order, then file order.</summary>
    public IReadOnlyList<ClefEvent> ReadAll() => ReadNew(atEnd: true).OrderBy(e => e.Timestamp).ToList();

    /// <summary>
    /// Prints what is there, then keeps printing what is appended until cancelled. Each file is read as it grows,
    /// so an event is held back for <paramref name="holdBack"/> after it is read: events that other nodes wrote
    /// at about the same time can then still be put before it.
    /// </summary>
    public async Task FollowAsync(Action<ClefEvent> print, TimeSpan poll, TimeSpan holdBack, CancellationToken cancel)
    {
        foreach (var e in ReadNew(atEnd: false).OrderBy(e => e.Timestamp)) print(e);
        var pending = new List<(ClefEvent Event, DateTime ReadAt)>();
        while (!cancel.IsCancellationRequested)
        {
            try { await Task.Delay(poll, cancel); }
            catch (OperationCanceledException) { break; }
            var now = DateTime.UtcNow;
            pending.AddRange(ReadNew(atEnd: false).Select(e => (e, now)));
            var due = pending.Where(p => now - p.ReadAt >= holdBack).ToList();
            if (due.Count == 0) continue;
            // Whatever happened before an event that is due goes out with it, however recently it was read.
            var until = due.Max(p => p.Event.Timestamp);
            var ready = pending.Where(p => p.Event.Timestamp <= until).OrderBy(p => p.Event.Timestamp).ToList();
            pending.RemoveAll(p => p.Event.Timestamp <= until);
            foreach (var (e, _) in ready) print(e);
        }
        foreach (var (e, _) in pending.OrderBy(p => p.Event.Timestamp)) print(e);
    }

    private List<ClefEvent> ReadNew(bool atEnd)
    {
        if (Directory.Exists(logsFolder))
            foreach (var file in Directory.EnumerateFiles(logsFolder, "*.clef"))
                if (!tails.ContainsKey(file)) tails[file] = new ClefTail(file);
        var events = new List<ClefEvent>();
        foreach (var tail in tails.Values)
        {
            try { events.AddRange(tail.ReadNew(atEnd)); }
            catch (FileNotFoundException) { /* removed while we looked: nothing more to read from it */ }
        }
        return events;
    }
}
