using Akka;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using ILogger = Serilog.ILogger;
using VaeCluster.Cluster;
using VaeCluster.Coordinator.Hosting;
using VaeCluster.Coordinator.Logs;
using VaeCluster.Coordinator.Monitoring;
using VaeCluster.Coordinator.Run;
using VaeCluster.Coordinator.Training;
using VaeCluster.Data;
using VaeCluster.DataPlane;
using VaeCluster.Hosting;
using VaeCluster.Logging;
using VaeCluster.Protocol;

namespace VaeCluster.Coordinator.Cluster;

/// <summary>
/// Cluster mode, coordinator node: the same CoordinatorActor as in single-process mode, in an ActorSystem that is
/// the cluster's seed. Workers join over Akka.Cluster, are admitted by the WorkerGateway and appear to the
/// coordinator as WorkerLinks, which move parameters and gradients over the data plane.
/// With <paramref name="localWorkers"/> (./vae train --cluster) it also starts that many worker processes here, and
/// starts again those that die.
/// </summary>
public static class ClusterCoordinatorHost
{
    private static readonly TimeSpan WorkerExitGrace = TimeSpan.FromSeconds(15);

    /// <summary>How long a stopping run waits for the step in flight to be applied and checkpointed.</summary>
    private static readonly TimeSpan StepBoundaryDeadline = TimeSpan.FromSeconds(10);

    public static async Task<TrainingFinished> RunAsync(TrainingState state, RunRecorder recorder, MnistSplit train,
        ClusterSettings settings, LocalWorkers? localWorkers, WatchPlan watch, ILogger log, CancellationToken cancel)
    {
        var outcome = new TaskCompletionSource<TrainingFinished>(TaskCreationOptions.RunContinuationsAsynchronously);
        var layout = TensorLayout.Of(state.Parameters);
        var wire = settings.Wire ?? WirePrecision.Fp32;
        SharedTensorRegion.DeleteOrphans();
        string cookie = SharedTensorRegion.NewCookie();
        // --transport tcp: no shared memory is offered, so even workers on this machine use the socket.
        using var published = settings.SharedMemory
            ? new ParameterPublisher(SharedTensorRegion.Create($"vaecluster-{Environment.ProcessId}.params", TensorLayout.PayloadBytes(layout), cookie))
            : null;
        using var dataPlane = DataPlaneListener.Bind(settings.Host, settings.DataPort, log);
        using var host = AkkaHost.Build(log, akka => akka.StopTheRunOnActorFailure().WithVaeCluster(settings, ClusterDefaults.CoordinatorRole, seeds: []));
        await host.StartAsync(cancel);
        var system = host.Services.GetRequiredService<ActorSystem>();
        var cluster = Akka.Cluster.Cluster.Get(system);
        cluster.Join(cluster.SelfAddress); // the coordinator is the seed: it founds the cluster
        string seed = $"{settings.AdvertisedHost}:{cluster.SelfAddress.Port}";

        var listener = system.ActorOf(TrainingOutcomeListener.Props(outcome, log), "outcome");
        system.ActorOf(NodeLogWriter.Props(recorder.Directory.Logs, log), ForwardedLogs.WriterName); // worker nodes' logs
        TrainingMonitors.Start(system, watch);
        var coordinator = system.ActorOf(CoordinatorActor.Props(state, recorder, log), "coordinator");
        var gateway = system.ActorOf(WorkerGateway.Props(coordinator, new GatewaySettings(
            settings.AdvertisedHost, dataPlane.Port, state.Options.Shape, train.Count, train.Sha256,
            layout, published, cookie, settings.Secret, WholeShards: state.Options.Deterministic, Wire: wire, SyncEvery: state.Options.SyncEvery), log), WorkerGateway.Name);
        foreach (var essential in new[] { coordinator, gateway }) listener.Tell(new WatchEssential(essential));
        dataPlane.AcceptInto(gateway);
        if (settings.SharedMemory)
            log.Information("Tensors travel over TCP as {Wire} and through shared memory (workers on this machine) as fp32; the coordinator keeps and sums them in fp32",
                WirePrecisionName.Of(wire));
        else
            log.Information("Tensors travel over TCP as {Wire}; the coordinator keeps and sums them in fp32", WirePrecisionName.Of(wire));
        log.Information("Coordinator node up at {Address}; seed for workers: --seed {Seed}; data plane on port {DataPort}; waiting for {Workers} workers",
            cluster.SelfAddress, seed, dataPlane.Port, state.Options.Workers);

        using var workers = localWorkers is not null
            ? LocalWorkerProcesses.Start(localWorkers, seed, state.Options.DataDir, recorder.Directory.Logs, settings.Secret, log, cancel)
            : null;
        if (workers is not null) system.ActorOf(FirstStepListener.Props(workers.TrainingStarted), "first-step");
        string resume = localWorkers is not null ? $"./vae train --cluster --resume {recorder.Directory.Root}" : $"./vae coordinator --resume {recorder.Directory.Root}";
        try
        {
            var tooFewWorkers = workers?.TooFewLeft ?? new TaskCompletionSource<string>().Task;
            var ended = await Task.WhenAny(outcome.Task, system.WhenTerminated, tooFewWorkers).WaitAsync(cancel);
            if (ended == outcome.Task) return outcome.Task.Result;
            string message = ended == tooFewWorkers
                // Stopped at the step boundary below, with a checkpoint there, as on SIGTERM.
                ? $"{tooFewWorkers.Result}; continue from the last checkpoint with: {resume}"
                // Removed from its own cluster anyway (downed, or its ActorSystem ended): the actors, the coordinator
                // among them, have stopped between two messages, so no checkpoint is being written; the run goes on
                // from the last one.
                : $"the coordinator's cluster node was removed at step {state.Cursor.GlobalStep}; continue from its last checkpoint with: {resume}";
            log.Error("Training stopped: {Reason}", message);
            return new TrainingFinished(false, message);
        }
        finally
        {
            workers?.StopRestarting(); // before the Bye: the workers it ends are not to be started again
            string reason = outcome.Task.IsCompletedSuccessfully ? "training finished" : "the coordinator is stopping";
            if (!system.WhenTerminated.IsCompleted)
            {
                // Interrupted (SIGTERM, Ctrl-C): the step in flight is finished and checkpointed before the Bye.
                if (!outcome.Task.IsCompleted)
                    await coordinator.Ask<Done>(CoordinatorActor.StopAtStepBoundary.Instance, StepBoundaryDeadline).ContinueWith(_ => { });
                await gateway.Ask<Done>(new SayGoodbye(reason), TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
            }
            if (workers is not null) await workers.StopAsync(WorkerExitGrace);
            if (!await host.StopWithinDeadlineAsync())
                log.Warning("The coordinator's node did not stop within {Deadline}; going on without it", HostStop.Deadline);
        }
    }
}
