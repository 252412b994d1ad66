using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ILogger = Serilog.ILogger;
using Serilog;
using VaeCluster.Coordinator.Run;
using VaeCluster.Coordinator.Training;
using VaeCluster.Data;
using VaeCluster.Model;
using VaeCluster.Protocol;
using VaeCluster.Worker;

namespace VaeCluster.Coordinator.Hosting;

/// <summary>
/// Single-process mode: the coordinator and N worker actors in one ActorSystem, passing tensors by reference.
/// Each worker gets its own thread and TorchSharp computes single-threaded inside it, so N workers use N cores
/// without the two thread pools fighting over them.
/// </summary>
public static class SingleProcessHost
{
    private const string WorkerDispatcherConfig = $$"""
        {{WorkerActor.Dispatcher}} {
          type = PinnedDispatcher
          executor = thread-pool-executor
        }
        akka.loglevel = WARNING
        akka.stdout-loglevel = WARNING
        """;

    public static async Task<TrainingFinished> RunAsync(
        TrainingState state, RunRecorder recorder, MnistDataset data, ILogger log, CancellationToken cancel)
    {
        TorchSharp.torch.set_num_threads(1);
        var outcome = new TaskCompletionSource<TrainingFinished>(TaskCreationOptions.RunContinuationsAsynchronously);
        var shape = state.Options.Shape;

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        // The run owns Ctrl-C (StopSignals); the host must not stop itself behind the run's back.
        builder.Services.AddSingleton<IHostLifetime, RunOwnedLifetime>();
        builder.Services.AddSerilog(log);
        builder.Services.AddAkka("vaecluster", akka => akka
            .AddHocon(WorkerDispatcherConfig, HoconAddMode.Prepend)
            .ConfigureLoggers(loggers =>
            {
                loggers.ClearLoggers();
                loggers.AddLoggerFactory();
            })
            .WithActors((system, registry) =>
            {
                system.ActorOf(TrainingOutcomeListener.Props(outcome), "outcome");
                var coordinator = system.ActorOf(CoordinatorActor.Props(state, recorder, log), "coordinator");
                registry.Register<CoordinatorActor>(coordinator);
                for (int i = 1; i <= state.Options.Workers; i++)
                    system.ActorOf(WorkerActor.Props($"worker-{i}", coordinator, shape, data.Train), $"worker-{i}");
            }));

        using var host = builder.Build();
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
