using Akka.Actor;
using Akka.Hosting;
using ILogger = Serilog.ILogger;
using VaeCluster.Coordinator.Monitoring;
using VaeCluster.Coordinator.Run;
using VaeCluster.Coordinator.Training;
using VaeCluster.Data;
using VaeCluster.Hosting;
using VaeCluster.Model;
using VaeCluster.Protocol;
using VaeCluster.Worker;

namespace VaeCluster.Coordinator.Hosting;

/// <summary>
/// Single-process mode: the coordinator and one worker node (a WorkerPool of N worker actors) in one ActorSystem,
/// passing tensors by reference: the same pool a worker node runs, with the coordinator in place of the link.
/// Each worker actor gets its own thread and TorchSharp computes single-threaded inside it, so N workers use N
/// cores without the two thread pools fighting over them.
/// </summary>
public static class SingleProcessHost
{
    /// <summary>The one worker node of a single-process run, as the ledger names it.</summary>
    public const string LocalNode = "local";

    public static async Task<TrainingFinished> RunAsync(
        TrainingState state, RunRecorder recorder, MnistDataset data, WatchPlan watch, ILogger log, CancellationToken cancel)
    {
        TorchSharp.torch.set_num_threads(1);
        var outcome = new TaskCompletionSource<TrainingFinished>(TaskCreationOptions.RunContinuationsAsynchronously);
        var shape = state.Options.Shape;

        using var host = AkkaHost.Build(log, akka => akka.StopTheRunOnActorFailure().WithActors((system, registry) =>
        {
            var listener = system.ActorOf(TrainingOutcomeListener.Props(outcome, log), "outcome");
            TrainingMonitors.Start(system, watch);
            var coordinator = system.ActorOf(CoordinatorActor.Props(state, recorder, log), "coordinator");
            registry.Register<CoordinatorActor>(coordinator);
            // With --sync-every above 1 the node trains its rounds locally: a RoundRunner between it and the coordinator.
            var upstream = state.Options.SyncEvery > 1 ? system.ActorOf(RoundRunner.Props(LocalNode, coordinator, shape), "rounds") : coordinator;
            var pool = system.ActorOf(WorkerPool.Props(LocalNode, state.Options.Workers, upstream, shape, data.Train), "workers");
            foreach (var essential in new[] { coordinator, upstream, pool }.Distinct()) listener.Tell(new WatchEssential(essential));
        }));
        await host.StartAsync(cancel);
        try
        {
            return await outcome.Task.WaitAsync(cancel);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }
}
