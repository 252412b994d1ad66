namespace VaeCluster.Logging;

/// <summary>
/// A worker node's log events on their way to the run's logs folder, carried by Akka.Remote like the other control
/// messages. Each node keeps one batch in flight until the coordinator answers <see cref="LogsStored"/>, so the
/// coordinator never holds more than one batch per node, and a batch sent again after a lost answer is stored once.
/// </summary>
public interface ILogForwardingMessage;

/// <param name="Worker">the worker's id: its events go to RUN_DIR/logs/&lt;Worker&gt;.clef</param>
/// <param name="Host">the node's machine name; with <paramref name="ProcessId"/> it names one sender</param>
/// <param name="LocalFile">the full path of the node's own CLEF file: when that is the very file the coordinator
/// would write (same machine, same path: ./vae train --cluster), the node writes it itself</param>
/// <param name="Sequence">1, 2, 3... per sender: a batch sent twice is stored once</param>
/// <param name="Lines">CLEF lines, one event each, without their newline</param>
/// <param name="DroppedOnNode">events the node could not forward so far (its queue was full), a running total</param>
public sealed record ForwardedLogs(
    string Worker, string Host, int ProcessId, string? LocalFile, long Sequence, string[] Lines, long DroppedOnNode) : ILogForwardingMessage
{
    /// <summary>The coordinator-side writer's name under /user, which worker nodes address.</summary>
    public const string WriterName = "node-logs";
}

/// <summary>The coordinator has stored (or had stored before) the batch with this sequence number.</summary>
public sealed record LogsStored(long Sequence) : ILogForwardingMessage;
