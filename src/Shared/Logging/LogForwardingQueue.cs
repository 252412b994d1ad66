using System.Threading.Channels;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace VaeCluster.Logging;

/// <summary>
/// The worker node's log events waiting to go to the coordinator (a Serilog sink). Logging never waits on the
/// network: an event is queued in memory, or, when the queue is full (the coordinator unreachable for long, a flood
/// of events), dropped and counted; every batch reports the running count. The node's local file gets every event
/// either way. The queue outlives the node's ActorSystem, so events logged while rejoining go out once it has joined.
/// One reader (the node's <see cref="LogShipper"/>) takes batches and acknowledges them.
/// </summary>
public sealed class LogForwardingQueue(string worker, string? localFile, int capacity = LogForwardingQueue.DefaultCapacity) : ILogEventSink
{
    public const int DefaultCapacity = 10_000;

    /// <summary>
    /// Akka.Remote drops a message over its 128 kB frame, and a batch that can never arrive would be sent forever: at
    /// most 3 bytes of UTF-8 per character (or 2 for an escaped quote) keep a batch of this many characters under it.
    /// </summary>
    public const int MaxBatchChars = 32 * 1024;

    public const int MaxBatchLines = 200;

    private readonly Channel<LogEvent> events = Channel.CreateBounded<LogEvent>(
        new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
    private readonly CompactJsonFormatter format = new();
    private long dropped;
    private long sequence;
    private string? carried; // a line that did not fit in the last batch
    private ForwardedLogs? unacknowledged;
    private long reportedDrops;

    public int Waiting => events.Reader.Count + (carried is null ? 0 : 1);

    public long Dropped => Interlocked.Read(ref dropped);

    public void Emit(LogEvent logEvent)
    {
        if (!events.Writer.TryWrite(logEvent)) Interlocked.Increment(ref dropped);
    }

    /// <summary>The batch to send: the last one again until it is acknowledged, else a new one; null when idle.</summary>
    public ForwardedLogs? NextBatch()
    {
        if (unacknowledged is not null) return unacknowledged;
        var lines = new List<string>();
        int chars = 0;
        while (lines.Count < MaxBatchLines && (carried ?? Read()) is { } line)
        {
            carried = null;
            if (line.Length > MaxBatchChars)
            {
                Interlocked.Increment(ref dropped); // one event larger than a batch can never be sent
                continue;
            }
            if (chars + line.Length > MaxBatchChars)
            {
                carried = line;
                break;
            }
            lines.Add(line);
            chars += line.Length;
        }
        long droppedNow = Dropped;
        if (lines.Count == 0 && droppedNow == reportedDrops) return null; // nothing new, not even a drop to report
        reportedDrops = droppedNow;
        unacknowledged = new ForwardedLogs(worker, Environment.MachineName, Environment.ProcessId, localFile, ++sequence, [.. lines], droppedNow);
        return unacknowledged;
    }

    public void Acknowledge(long stored)
    {
        if (unacknowledged?.Sequence == stored) unacknowledged = null;
    }

    private string? Read()
    {
        if (!events.Reader.TryRead(out var e)) return null;
        using var text = new StringWriter();
        format.Format(e, text);
        return text.ToString().TrimEnd('\n', '\r');
    }
}
