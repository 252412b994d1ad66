using Serilog.Core;
using Serilog.Events;

namespace VaeCluster.Logging;

/// <summary>The console sink, except while a live display owns the terminal (see <see cref="LiveConsole"/>).</summary>
public sealed class LiveConsoleSink(Logger console) : ILogEventSink, IDisposable
{
    /// <summary>The property <see cref="LoggingSetup.ConsoleTemplate"/> shows an exception by, when the message does not say it.</summary>
    public const string ExceptionInBrief = "ExceptionInBrief";

    public void Emit(LogEvent logEvent)
    {
        var line = OneLine(logEvent);
        if (!LiveConsole.TryHandOver(line)) console.Write(line);
    }

    /// <summary>
    /// The event as people read it on the console: an exception as its message, on the event's own line, never as a
    /// stack trace. A run that ends on a full disk then says so in one line, not above thirteen lines of frames; the
    /// log file (CLEF) keeps the whole exception for whoever diagnoses it.
    /// </summary>
    public static LogEvent OneLine(LogEvent e)
    {
        if (e.Exception is not { } exception) return e;
        var properties = e.Properties.Select(p => new LogEventProperty(p.Key, p.Value)).ToList();
        var message = exception.Message.ReplaceLineEndings(" ");
        if (!e.RenderMessage().Contains(message, StringComparison.Ordinal))
            properties.Add(new LogEventProperty(ExceptionInBrief, new ScalarValue($" ({exception.GetType().Name}: {message})")));
        return new LogEvent(e.Timestamp, e.Level, exception: null, e.MessageTemplate, properties);
    }

    public void Dispose() => console.Dispose();
}
