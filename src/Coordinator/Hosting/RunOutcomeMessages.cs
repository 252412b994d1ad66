using Akka.Actor;

namespace VaeCluster.Coordinator.Hosting;

/// <summary>A top-level actor of the coordinator's node threw: it was stopped, not restarted (StopTheRunOnFailure).</summary>
public sealed record ActorFailed(string Actor, string Reason);

/// <summary>An actor without which the run cannot go on (the coordinator, the gateway, the local worker pool): its end ends the run.</summary>
public sealed record WatchEssential(IActorRef Actor);
