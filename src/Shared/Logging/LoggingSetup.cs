using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace VaeCluster.Logging;

/// <summary>
/// One logger per process: readable lines on the console for people, compact JSON (CLEF) in the run's logs
/// folder for machines. Every event carries the node's role and identity so logs of many nodes can be merged.
/// </summary>
public static class LoggingSetup
{
    /// <summary>One line per event: an exception shows as its message, never as a stack trace (<see cref="LiveConsoleSink.OneLine"/>).</summary>
    public const string ConsoleTemplate = "[{Timestamp:HH:mm:ss} {Level:u3}] {Message:lj}{" + LiveConsoleSink.ExceptionInBrief + "}{NewLine}";

    /// <param name="forward">also hand every event to this sink (a worker node: to the coordinator, see LogForwardingQueue)</param>
    /// <param name="tap">also gets every event (the coordinator's run watcher reads the run's events from it)</param>
    public static Serilog.Core.Logger Create(string role, string? clefFile, LogEventLevel consoleLevel = LogEventLevel.Information,
        ILogEventSink? forward = null, ILogEventSink? tap = null)
    {
        var akkaNoise = new AkkaTransportNoise();
        var config = new LoggerConfiguration()
            .MinimumLevel.Debug()
            .MinimumLevel.Override("Akka", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .Filter.ByExcluding(IsRemoteEndpointChatter)
            .Filter.ByIncludingOnly(akkaNoise.Keep)
            .Enrich.WithProperty("Role", role)
            .Enrich.WithProperty("Node", $"{Environment.MachineName}/{Environment.ProcessId}")
            .WriteTo.Sink(new LiveConsoleSink(new LoggerConfiguration().MinimumLevel.Verbose()
                .WriteTo.Console(outputTemplate: ConsoleTemplate).CreateLogger()), consoleLevel);
        if (clefFile is not null)
            config = config.WriteTo.File(new CompactJsonFormatter(), clefFile, flushToDiskInterval: TimeSpan.FromSeconds(1));
        if (forward is not null) config = config.WriteTo.Sink(forward);
        if (tap is not null) config = config.WriteTo.Sink(tap);
        return config.CreateLogger();
    }

    /// <summary>
    /// Akka.Remote reports every closed association (a worker exiting after Bye, a node that died) as a warning
    /// plus an error with a stack trace. Our own membership and data-plane events already say that a node left
    /// and why, so these only alarm; other Akka warnings and errors still come through.
    /// </summary>
    private static bool IsRemoteEndpointChatter(LogEvent e) =>
        e.Properties.TryGetValue("ActorPath", out var path) && path.ToString().Contains("/system/endpointManager/");
}
