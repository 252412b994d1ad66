using Akka.Actor;
using Akka.TestKit.Xunit2;
using VaeCluster.Coordinator.Hosting;
using Serilog.Events;
using VaeCluster.Protocol;
using VaeCluster.Tests.DataPlane;
using Xunit;

namespace VaeCluster.Tests.Hosting;

/// <summary>The coordinator node never waits silently: an essential actor's end ends the run, in one line.</summary>
public sealed class TrainingOutcomeListenerSpecs() : TestKit(
    $"akka.actor.guardian-supervisor-strategy = \"{typeof(StopTheRunOnFailure).AssemblyQualifiedName}\"")
{
    private sealed class Fragile : ReceiveActor
    {
        public Fragile() => Receive<string>(text => throw new InvalidOperationException(text));
    }

    private (TaskCompletionSource<TrainingFinished> Outcome, IActorRef Listener, CapturedLog Log) StartListener()
    {
        var outcome = new TaskCompletionSource<TrainingFinished>(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new CapturedLog();
        var listener = Sys.ActorOf(TrainingOutcomeListener.Props(outcome, log.Logger), "outcome");
        listener.Tell(new Identify(null));
        ExpectMsg<ActorIdentity>(); // started: subscribed to the events it listens for
        return (outcome, listener, log);
    }

    [Fact]
    public async Task Should_end_the_run_in_one_line_when_an_essential_actor_throws_instead_of_restarting_it()
    {
        var (outcome, listener, log) = StartListener();
        var coordinator = Sys.ActorOf(Props.Create(() => new Fragile()), "coordinator");
        listener.Tell(new WatchEssential(coordinator));
        Watch(coordinator);
        coordinator.Tell("the disk is full");
        ExpectTerminated(coordinator); // stopped, not restarted with its state lost

        var finished = await outcome.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(finished.Succeeded);
        Assert.Contains("the coordinator actor failed (InvalidOperationException: the disk is full)", finished.Error);
        Assert.Equal([(LogEventLevel.Fatal, $"Training stopped: \"{finished.Error}\"")], log.Events);
    }

    [Fact]
    public async Task Should_end_the_run_when_an_essential_actor_stops_without_an_outcome()
    {
        var (outcome, listener, _) = StartListener();
        var gateway = Sys.ActorOf(Props.Create(() => new Fragile()), "worker-gateway");
        listener.Tell(new WatchEssential(gateway));
        Sys.Stop(gateway);
        var finished = await outcome.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(finished.Succeeded);
        Assert.Contains("the worker-gateway actor stopped before the run ended", finished.Error);
    }

    [Fact]
    public async Task Should_keep_the_coordinators_own_outcome_when_it_stops_after_publishing_it()
    {
        var (outcome, listener, _) = StartListener();
        var coordinator = Sys.ActorOf(Props.Create(() => new Fragile()), "coordinator");
        listener.Tell(new WatchEssential(coordinator));
        Sys.EventStream.Publish(new TrainingFinished(false, "loss diverged at step 3; try a lower --lr"));
        Sys.Stop(coordinator);
        var finished = await outcome.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("loss diverged at step 3; try a lower --lr", finished.Error);
    }

    [Fact]
    public async Task Should_let_the_run_go_on_when_an_actor_that_is_not_essential_fails()
    {
        var (outcome, _, log) = StartListener();
        var watcher = Sys.ActorOf(Props.Create(() => new Fragile()), "watch");
        Watch(watcher);
        watcher.Tell("a bad chart");
        ExpectTerminated(watcher);
        await AwaitAssertAsync(() => Assert.Contains(log.Events, e => e.Message.StartsWith("The \"watch\" actor failed and was stopped; training goes on without it")));
        Assert.False(outcome.Task.IsCompleted);
    }
}
