using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using ILogger = Serilog.ILogger;
using VaeCluster.Cluster;
using VaeCluster.Hosting;
using VaeCluster.Data;
using VaeCluster.Logging;

namespace VaeCluster.Worker.Cluster;

/// <summary>
/// A worker node: an ActorSystem with the worker role that joins the cluster through the seeds and runs a
/// CoordinatorLink (and through it a WorkerPool of K worker actors). When the coordinator goes away without saying Bye, the node
/// starts a fresh ActorSystem and joins again, so a restarted coordinator finds its workers back by itself.
/// </summary>
public static class WorkerNodeHost
{
    private static readonly TimeSpan RejoinAfter = TimeSpan.FromSeconds(2);

    /// <returns>0 when training finished, 1 when the coordinator refused this worker.</returns>
    /// <param name="forwardLogs">this node's log events bound for the coordinator (RUN_DIR/logs/&lt;worker&gt;.clef)</param>
    public static async Task<int> RunAsync(string workerId, int actors, ClusterSettings settings, MnistSplit train, ILogger log, CancellationToken cancel,
        LogForwardingQueue? forwardLogs = null)
    {
        TorchSharp.torch.set_num_threads(1);
        while (true)
        {
            var end = await RunSessionAsync(workerId, actors, settings, train, log, forwardLogs, cancel);
            switch (end.Outcome)
            {
                case WorkerSessionOutcome.Finished:
                    log.Information("Worker {Worker} done: {Reason}", workerId, end.Reason);
                    return 0;
                case WorkerSessionOutcome.Refused:
                    log.Error("Worker {Worker} refused: {Reason}", workerId, end.Reason);
                    return 1;
                case WorkerSessionOutcome.GaveUp:
                    log.Error("Worker {Worker} gives up: {Reason}", workerId, end.Reason);
                    return 1;
                default:
                    log.Warning("Worker {Worker} lost the coordinator ({Reason}); rejoining in {Delay}", workerId, end.Reason, RejoinAfter);
                    await Task.Delay(RejoinAfter, cancel);
                    break;
            }
        }
    }

    private static async Task<WorkerSessionEnd> RunSessionAsync(
        string workerId, int actors, ClusterSettings settings, MnistSplit train, ILogger log, LogForwardingQueue? forwardLogs, CancellationToken cancel)
    {
        var ended = new TaskCompletionSource<WorkerSessionEnd>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var host = AkkaHost.Build(log, akka => akka
            .WithVaeCluster(settings, ClusterDefaults.WorkerRole, settings.Seeds)
            .WithActors((system, _) => system.ActorOf(CoordinatorLink.Props(workerId, actors, train, settings.Secret, settings.SharedMemory, ended, log, settings.Wire), "coordinator-link"))
            .WithActors((system, _) => { if (forwardLogs is not null) system.ActorOf(LogShipper.Props(forwardLogs), LogShipper.Name); }));
        await host.StartAsync(cancel);
        var system = host.Services.GetRequiredService<ActorSystem>();
        // Downed by the cluster (the coordinator unreachable for too long): the ActorSystem ends; rejoin.
        _ = system.WhenTerminated.ContinueWith(_ =>
            ended.TrySetResult(new WorkerSessionEnd(WorkerSessionOutcome.Lost, "this node was removed from the cluster")));
        log.Information("Worker {Worker} node up at {Address}, joining {Seeds}",
            workerId, Akka.Cluster.Cluster.Get(system).SelfAddress, string.Join(", ", settings.Seeds));
        try
        {
            return await ended.Task.WaitAsync(cancel);
        }
        finally
        {
            if (!await host.StopWithinDeadlineAsync())
                log.Warning("Worker {Worker}'s node did not stop within {Deadline}; going on without it", workerId, HostStop.Deadline);
        }
    }
}
