using Serilog.Events;

namespace VaeCluster.Coordinator.Logs;

/// <summary>
/// How ./vae logs prints an event: <c>HH:mm:ss.fff LVL [role node] message</c>, then any exception; for a worker
/// node the role is its worker id (<c>[worker-1 host/pid]</c>).
/// </summary>
public static class LogLine
{
    public static string Format(ClefEvent e, bool colour)
    {
        var level = Abbreviation(e.Level);
        if (colour) level = $"{Colour(e.Level)}{level}\u001b[0m";
        // A worker node's own events name the worker (worker-1) rather than the role, so nodes can be told apart.
        var role = e.Text("Role") == "worker" && e.Text("Worker") is { } worker ? worker : e.Text("Role");
        var source = string.Join(' ', new[] { role, e.Text("Node") }.Where(s => s is not null));
        var line = $"{e.Timestamp.ToLocalTime():HH:mm:ss.fff} {level} [{source}] {e.Message}";
        return e.Exception is null ? line : line + Environment.NewLine + e.Exception.TrimEnd();
    }

    private static string Abbreviation(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose => "VRB",
        LogEventLevel.Debug => "DBG",
        LogEventLevel.Information => "INF",
        LogEventLevel.Warning => "WRN",
        LogEventLevel.Error => "ERR",
        _ => "FTL",
    };

    private static string Colour(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose or LogEventLevel.Debug => "\u001b[90m",
        LogEventLevel.Information => "\u001b[32m",
        LogEventLevel.Warning => "\u001b[33m",
        _ => "\u001b[31;1m",
    };
}
