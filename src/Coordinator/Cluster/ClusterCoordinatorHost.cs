using Akka;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using ILogger = Serilog.ILogger;
using VaeCluster.Cluster;
using VaeCluster.Coordinator.Hosting;
using VaeCluster.Coordinator.Monitoring;
using VaeCluster.Coordinator.Run;
using VaeCluster.Coordinator.Training;
using VaeCluster.Data;
using VaeCluster.DataPlane;
using VaeCluster.Hosting;
using VaeCluster.Protocol;

namespace VaeCluster.Coordinator.Cluster;

/// <summary>
/// Cluster mode, coordinator node: the same CoordinatorActor as in single-process mode, in an ActorSystem that is
/// the cluster's seed. Workers join over Akka.Cluster, are admitted by the WorkerGateway and appear to the
/// coordinator as WorkerLinks, which move parameters and gradients over the data plane.
/// With <paramref name="localWorkers"/> &gt; 0 (./vae train --cluster) it also starts that many worker processes here.
/// </summary>
public static class ClusterCoordinatorHost
{
    private static readonly TimeSpan WorkerExitGrace = TimeSpan.FromSeconds(15);

    public static async Task<TrainingFinished> RunAsync(TrainingState state, RunRecorder recorder, MnistSplit train,
        ClusterSettings settings, int localWorkers, WatchPlan watch, ILogger log, CancellationToken cancel)
    {
        var outcome = new TaskCompletionSource<TrainingFinished>(TaskCreationOptions.RunContinuationsAsynchronously);
        var layout = TensorLayout.Of(state.Parameters);
        SharedTensorRegion.DeleteOrphans();
        string cookie = SharedTensorRegion.NewCookie();
        using var published = new ParameterPublisher(SharedTensorRegion.Create(
            $"vaecluster-{Environment.ProcessId}.params", TensorLayout.PayloadBytes(layout), cookie), layout);
        state.Mirror = published;
        using var dataPlane = DataPlaneListener.Bind(settings.Host, settings.DataPort, log);
        using var host = AkkaHost.Build(log, akka => akka.WithVaeCluster(settings, ClusterDefaults.CoordinatorRole, seeds: []));
        await host.StartAsync(cancel);
        var system = host.Services.GetRequiredService<ActorSystem>();
        var cluster = Akka.Cluster.Cluster.Get(system);
        cluster.Join(cluster.SelfAddress); // the coordinator is the seed: it founds the cluster
        string seed = $"{settings.AdvertisedHost}:{cluster.SelfAddress.Port}";

        system.ActorOf(TrainingOutcomeListener.Props(outcome), "outcome");
        TrainingMonitors.Start(system, watch);
        var coordinator = system.ActorOf(CoordinatorActor.Props(state, recorder, log), "coordinator");
        var gateway = system.ActorOf(WorkerGateway.Props(coordinator, new GatewaySettings(
            settings.AdvertisedHost, dataPlane.Port, state.Options.Shape, train.Count, train.Sha256,
            layout, published, cookie, settings.Secret), log), WorkerGateway.Name);
        dataPlane.AcceptInto(gateway);
        log.Information("Coordinator node up at {Address}; seed for workers: --seed {Seed}; data plane on port {DataPort}; waiting for {Workers} workers",
            cluster.SelfAddress, seed, dataPlane.Port, state.Options.Workers);

        using var workers = localWorkers > 0
            ? LocalWorkerProcesses.Start(localWorkers, seed, state.Options.DataDir, recorder.Directory.Logs, settings.Secret, log)
            : null;
        try
        {
            return await outcome.Task.WaitAsync(cancel);
        }
        finally
        {
            string reason = outcome.Task.IsCompletedSuccessfully ? "training finished" : "the coordinator is stopping";
            await gateway.Ask<Done>(new SayGoodbye(reason), TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
            if (workers is not null) await workers.StopAsync(WorkerExitGrace);
            await host.StopAsync(CancellationToken.None);
            state.Mirror = null; // the region goes with this method
        }
    }
}
