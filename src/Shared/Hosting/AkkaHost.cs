using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serilog;
using ILogger = Serilog.ILogger;

namespace VaeCluster.Hosting;

/// <summary>
/// The generic host every node runs its ActorSystem in: Serilog for logs (Akka's own included), and a lifetime
/// that leaves Ctrl-C to the run (StopSignals), which stops the host when it has finished cleanly.
/// </summary>
public static class AkkaHost
{
    /// <summary>Worker actors get a thread each: a shard is milliseconds of blocking native compute.</summary>
    public const string PinnedDispatcher = "vae-pinned-dispatcher";

    private const string BaseConfig = $$"""
        {{PinnedDispatcher}} {
          type = PinnedDispatcher
          executor = thread-pool-executor
        }
        akka.loglevel = WARNING
        akka.stdout-loglevel = WARNING
        """;

    public static IHost Build(ILogger log, Action<AkkaConfigurationBuilder> configure)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, RunOwnedLifetime>();
        builder.Services.AddSerilog(log);
        builder.Services.AddAkka(Cluster.ClusterDefaults.SystemName, akka =>
        {
            akka.AddHocon(BaseConfig, HoconAddMode.Prepend)
                .ConfigureLoggers(loggers =>
                {
                    loggers.ClearLoggers();
                    loggers.AddLoggerFactory();
                });
            configure(akka);
        });
        return builder.Build();
    }
}
