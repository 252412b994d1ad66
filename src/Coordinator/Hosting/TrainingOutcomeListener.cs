using Akka.Actor;
using Serilog;
using VaeCluster.Protocol;

namespace VaeCluster.Coordinator.Hosting;

/// <summary>
/// Turns the coordinator's TrainingFinished event into a task the host can await; and makes sure the host never
/// waits silently: an essential actor that stops before the run has an outcome ends the run, with one line saying
/// which actor and why.
/// </summary>
public sealed class TrainingOutcomeListener : ReceiveActor
{
    private readonly Dictionary<string, string> failures = new();
    private readonly HashSet<IActorRef> essentials = new();

    public TrainingOutcomeListener(TaskCompletionSource<TrainingFinished> outcome, ILogger log)
    {
        Receive<TrainingFinished>(finished => outcome.TrySetResult(finished));
        Receive<WatchEssential>(essential =>
        {
            essentials.Add(essential.Actor);
            Context.Watch(essential.Actor);
        });
        Receive<ActorFailed>(failed =>
        {
            failures[failed.Actor] = failed.Reason;
            // An essential actor's failure is said once, as the run's end, when it has stopped.
            if (!essentials.Any(e => e.Path.Name == failed.Actor))
                log.Error("The {Actor} actor failed and was stopped; training goes on without it: {Reason}", failed.Actor, failed.Reason);
        });
        Receive<Terminated>(gone =>
        {
            if (outcome.Task.IsCompleted) return;
            string name = gone.ActorRef.Path.Name;
            string message = failures.TryGetValue(name, out var reason)
                ? $"the {name} actor failed ({reason}); continue from the last checkpoint with --resume"
                : $"the {name} actor stopped before the run ended; continue from the last checkpoint with --resume";
            log.Fatal("Training stopped: {Reason}", message);
            outcome.TrySetResult(new TrainingFinished(false, message));
        });
    }

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(TrainingFinished));
        Context.System.EventStream.Subscribe(Self, typeof(ActorFailed));
    }

    public static Props Props(TaskCompletionSource<TrainingFinished> outcome, ILogger log) =>
        Akka.Actor.Props.Create(() => new TrainingOutcomeListener(outcome, log));
}
