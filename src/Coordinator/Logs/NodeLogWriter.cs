using System.Text.Json;
using Akka.Actor;
using Serilog;
using VaeCluster.Logging;

namespace VaeCluster.Coordinator.Logs;

/// <summary>
/// Writes the log events that worker nodes forward (<see cref="ForwardedLogs"/>) to RUN_DIR/logs/&lt;worker&gt;.clef,
/// beside the coordinator's own file, so ./vae logs shows every node wherever it runs. Bounded: a node has one batch
/// in flight at a time, a batch is stored up to <see cref="MaxLines"/> lines of CLEF of up to
/// <see cref="MaxLineChars"/> each, and a node's file up to a size limit. What it does not store, and what nodes
/// report they dropped, is counted and reported: as a warning in that node's file and in the coordinator's log
/// (at most every <see cref="ReportEvery"/> per sending process, and the totals when the run ends).
/// </summary>
public sealed class NodeLogWriter : ReceiveActor
{
    public const int MaxLines = 1000;
    public const int MaxLineChars = 64 * 1024;
    public const long DefaultMaxFileBytes = 256L * 1024 * 1024;
    public static readonly TimeSpan ReportEvery = TimeSpan.FromSeconds(10);

    /// <summary>One sending process: where its sequence stands and what of it was lost.</summary>
    private sealed class Source(string worker)
    {
        public string Worker { get; } = worker;
        public long Sequence;
        public long DroppedOnNode, RefusedHere, Reported;
        public DateTime ReportedAt = DateTime.MinValue;
        public long Lost => DroppedOnNode + RefusedHere;
    }

    private readonly string folder;
    private readonly long maxFileBytes;
    private readonly ILogger log;
    private readonly Dictionary<string, NodeLogFile> files = new();
    private readonly Dictionary<(string Host, int ProcessId), Source> sources = new();

    public NodeLogWriter(string folder, long maxFileBytes, ILogger log)
    {
        this.folder = folder;
        this.maxFileBytes = maxFileBytes;
        this.log = log;
        Receive<ForwardedLogs>(Store);
    }

    public static Props Props(string logsFolder, ILogger log, long maxFileBytes = DefaultMaxFileBytes) =>
        Akka.Actor.Props.Create(() => new NodeLogWriter(logsFolder, maxFileBytes, log));

    private void Store(ForwardedLogs batch)
    {
        var key = (batch.Host, batch.ProcessId);
        if (!sources.TryGetValue(key, out var source)) sources[key] = source = new Source(batch.Worker);
        if (batch.Sequence > source.Sequence) // else: sent again after a lost answer; stored already
        {
            source.Sequence = batch.Sequence;
            var file = FileFor(batch.Worker);
            if (!WritesItself(batch, file.Path)) // else the node's own file is complete: nothing to add, nothing lost
            {
                var lines = batch.Lines.Take(MaxLines)
                    .Where(l => l.Length <= MaxLineChars && !l.Contains('\n') && ClefParser.TryParse(l) is not null)
                    .ToList();
                source.RefusedHere += batch.Lines.Length - lines.Count + file.Append(lines);
                source.DroppedOnNode = Math.Max(source.DroppedOnNode, batch.DroppedOnNode);
                if (source.Lost > source.Reported && DateTime.UtcNow - source.ReportedAt >= ReportEvery) Report(source, file);
            }
        }
        Sender.Tell(new LogsStored(batch.Sequence));
    }

    private NodeLogFile FileFor(string worker)
    {
        var name = NodeLogFile.NameFor(worker);
        if (!files.TryGetValue(name, out var file)) files[name] = file = new NodeLogFile(System.IO.Path.Combine(folder, name), maxFileBytes);
        return file;
    }

    /// <summary>A worker on this machine whose own log file is the one we would write (./vae train --cluster).</summary>
    private static bool WritesItself(ForwardedLogs batch, string path) =>
        batch.LocalFile is { } local && batch.Host == Environment.MachineName
        && string.Equals(System.IO.Path.GetFullPath(local), System.IO.Path.GetFullPath(path), StringComparison.Ordinal);

    private void Report(Source source, NodeLogFile file)
    {
        const string template = "{Lost} log events of worker {Worker} were not stored here: {DroppedOnNode} dropped on its node (forwarding queue full), {RefusedHere} refused by the coordinator (not CLEF, too long, or over the file's limit)";
        log.Warning(template, source.Lost, source.Worker, source.DroppedOnNode, source.RefusedHere);
        var line = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["@t"] = DateTimeOffset.UtcNow.ToString("O"), ["@mt"] = template, ["@l"] = "Warning",
            ["Lost"] = source.Lost, ["Worker"] = source.Worker, ["DroppedOnNode"] = source.DroppedOnNode, ["RefusedHere"] = source.RefusedHere,
            ["Role"] = "coordinator", ["Node"] = $"{Environment.MachineName}/{Environment.ProcessId}",
        });
        file.Append([line], evenOverLimit: true);
        source.Reported = source.Lost;
        source.ReportedAt = DateTime.UtcNow;
    }

    protected override void PostStop()
    {
        foreach (var source in sources.Values.Where(s => s.Lost > s.Reported)) Report(source, FileFor(source.Worker));
        foreach (var file in files.Values) file.Dispose();
    }
}
