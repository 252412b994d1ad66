using Akka.Actor;
using VaeCluster.Protocol;

namespace VaeCluster.Coordinator.Hosting;

/// <summary>Calls back once, when the run applies its first step (the coordinator's StepApplied event), then stops.</summary>
public sealed class FirstStepListener : ReceiveActor
{
    public FirstStepListener(Action firstStep)
    {
        Receive<StepApplied>(_ =>
        {
            firstStep();
            Context.Stop(Self);
        });
    }

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(StepApplied));

    public static Props Props(Action firstStep) => Akka.Actor.Props.Create(() => new FirstStepListener(firstStep));
}
