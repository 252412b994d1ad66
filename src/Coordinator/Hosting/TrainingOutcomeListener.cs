using Akka.Actor;
using VaeCluster.Protocol;

namespace VaeCluster.Coordinator.Hosting;

/// <summary>Turns the coordinator's TrainingFinished event into a task the host can await.</summary>
public sealed class TrainingOutcomeListener : ReceiveActor
{
    public TrainingOutcomeListener(TaskCompletionSource<TrainingFinished> outcome)
    {
        Receive<TrainingFinished>(finished => outcome.TrySetResult(finished));
    }

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(TrainingFinished));

    public static Props Props(TaskCompletionSource<TrainingFinished> outcome) =>
        Akka.Actor.Props.Create(() => new TrainingOutcomeListener(outcome));
}
