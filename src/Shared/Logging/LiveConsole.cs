using Serilog.Events;

namespace VaeCluster.Logging;

/// <summary>
/// Who prints the console's log lines. Normally the console sink. While a live display (a progress bar redrawn in
/// place) owns the terminal, a line written straight to the console would tear it: the display redraws over the
/// line, or leaves a stale copy of itself above it. So for that time the lines are handed to the display, which
/// prints them above itself. The log file gets every event either way.
/// </summary>
public static class LiveConsole
{
    private static Action<LogEvent>? owner;

    /// <summary>Sends console log events to <paramref name="print"/> until the returned handle is disposed.</summary>
    public static IDisposable HandTo(Action<LogEvent> print)
    {
        if (Interlocked.CompareExchange(ref owner, print, null) is not null)
            throw new InvalidOperationException("another live display already owns the console");
        return new Release(print);
    }

    /// <returns>false when no live display owns the console, and the caller should print the event itself</returns>
    public static bool TryHandOver(LogEvent logEvent)
    {
        var print = Volatile.Read(ref owner);
        if (print is null) return false;
        print(logEvent);
        return true;
    }

    private sealed class Release(Action<LogEvent> print) : IDisposable
    {
        public void Dispose() => Interlocked.CompareExchange(ref owner, null, print);
    }
}
