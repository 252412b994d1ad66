using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace VaeCluster.Tests.DataPlane;

/// <summary>A Serilog logger whose events a test can read back.</summary>
public sealed class CapturedLog : ILogEventSink
{
    private readonly List<LogEvent> events = new();

    public CapturedLog() => Logger = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(this).CreateLogger();

    public ILogger Logger { get; }

    public void Emit(LogEvent logEvent)
    {
        lock (events) events.Add(logEvent);
    }

    /// <summary>Every event so far, rendered, with its level.</summary>
    public IReadOnlyList<(LogEventLevel Level, string Message)> Events
    {
        get
        {
            lock (events) return events.Select(e => (e.Level, e.RenderMessage())).ToList();
        }
    }

    /// <summary>The rendered warnings so far.</summary>
    public IReadOnlyList<string> Warnings
    {
        get
        {
            lock (events) return events.Where(e => e.Level == LogEventLevel.Warning).Select(e => e.RenderMessage()).ToList();
        }
    }
}
