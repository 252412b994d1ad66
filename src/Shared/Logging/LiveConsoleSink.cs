using Serilog.Core;
using Serilog.Events;

namespace VaeCluster.Logging;

/// <summary>The console sink, except while a live display owns the terminal (see <see cref="LiveConsole"/>).</summary>
public sealed class LiveConsoleSink(Logger console) : ILogEventSink, IDisposable
{
    public void Emit(LogEvent logEvent)
    {
        if (!LiveConsole.TryHandOver(logEvent)) console.Write(logEvent);
    }

    public void Dispose() => console.Dispose();
}
