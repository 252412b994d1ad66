using Akka.Actor;
using Akka.Actor.Internal;
using Akka.Hosting;

namespace VaeCluster.Coordinator.Hosting;

/// <summary>
/// How the coordinator node's top-level actors are supervised. Akka's default restarts an actor that throws, and a
/// restarted coordinator is a new one with its in-flight step, its participants and its pause lost: it waits for
/// registrations that already happened, silently, for ever. Here a failing actor is stopped instead, and its failure
/// is published as ActorFailed; TrainingOutcomeListener says it in one line and, for an essential actor, ends the run.
/// </summary>
public sealed class StopTheRunOnFailure : SupervisorStrategyConfigurator
{
    public override SupervisorStrategy Create() => new Strategy();

    private sealed class Strategy() : OneForOneStrategy(_ => Directive.Stop)
    {
        public override void ProcessFailure(IActorContext context, bool restart, IActorRef child, Exception cause,
            ChildRestartStats stats, IReadOnlyCollection<ChildRestartStats> children)
        {
            context.System.EventStream.Publish(new ActorFailed(child.Path.Name, $"{cause.GetType().Name}: {cause.Message}"));
            base.ProcessFailure(context, restart, child, cause, stats, children);
        }

        // Said once, in one line, by TrainingOutcomeListener; Akka's own report is a stack trace.
        protected override void LogFailure(IActorContext context, IActorRef child, Exception cause, Directive directive) { }
    }
}

public static class StopTheRunOnFailureSetup
{
    /// <summary>Makes StopTheRunOnFailure the supervisor of this ActorSystem's top-level actors.</summary>
    public static AkkaConfigurationBuilder StopTheRunOnActorFailure(this AkkaConfigurationBuilder akka) =>
        akka.AddHocon($"akka.actor.guardian-supervisor-strategy = \"{typeof(StopTheRunOnFailure).AssemblyQualifiedName}\"", HoconAddMode.Prepend);
}
