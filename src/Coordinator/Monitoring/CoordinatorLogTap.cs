using Akka.Actor;
using Serilog.Core;
using Serilog.Events;

namespace VaeCluster.Coordinator.Monitoring;

/// <summary>
/// A log sink on the coordinator's logger that hands the run's notable events (<see cref="RunEventReader"/>) to
/// the watcher actor. Events logged before the actor exists (the run's start, while data load) wait here, a few.
/// </summary>
public sealed class CoordinatorLogTap : ILogEventSink
{
    private const int MaxWaiting = 50;
    private readonly Queue<RunEvent> waiting = new();
    private IActorRef? watcher;

    public void Emit(LogEvent logEvent)
    {
        if (RunEventReader.Read(logEvent) is not { } e) return;
        lock (waiting)
        {
            if (watcher is not null)
            {
                watcher.Tell(e);
                return;
            }
            waiting.Enqueue(e);
            if (waiting.Count > MaxWaiting) waiting.Dequeue();
        }
    }

    /// <summary>From now on events go to <paramref name="actor"/>, those that waited first.</summary>
    public void Attach(IActorRef actor)
    {
        lock (waiting)
        {
            while (waiting.TryDequeue(out var e)) actor.Tell(e);
            watcher = actor;
        }
    }

    /// <summary>The watcher is gone (its actor system stops): events wait again, and are dropped when too many.</summary>
    public void Detach(IActorRef actor)
    {
        lock (waiting)
            if (Equals(watcher, actor)) watcher = null;
    }
}
