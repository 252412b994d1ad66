using Serilog.Events;

namespace VaeCluster.Coordinator.Logs;

/// <summary>Which events ./vae logs shows: at least a level, from a node, mentioning a text.</summary>
/// <param name="Node">matches an event whose Role, Node or Worker is this (case-insensitive), or whose Node is on this host</param>
/// <param name="Text">a case-insensitive part of the message template or of the rendered message</param>
public sealed record LogFilter(LogEventLevel MinimumLevel = LogEventLevel.Verbose, string? Node = null, string? Text = null)
{
    public bool Matches(ClefEvent e) =>
        e.Level >= MinimumLevel
        && (Node is null || FromNode(e))
        && (Text is null || e.Template.Contains(Text, StringComparison.OrdinalIgnoreCase) || e.Message.Contains(Text, StringComparison.OrdinalIgnoreCase));

    private bool FromNode(ClefEvent e) =>
        new[] { e.Text("Role"), e.Text("Node"), e.Text("Worker") }.Any(v => string.Equals(v, Node, StringComparison.OrdinalIgnoreCase))
        || (e.Text("Node")?.StartsWith(Node + "/", StringComparison.OrdinalIgnoreCase) ?? false);

    /// <summary>Serilog's level names and their usual short forms (info, warn, err...).</summary>
    public static LogEventLevel? ParseLevel(string text) => text.ToLowerInvariant() switch
    {
        "verbose" or "vrb" or "trace" => LogEventLevel.Verbose,
        "debug" or "dbg" => LogEventLevel.Debug,
        "information" or "info" or "inf" => LogEventLevel.Information,
        "warning" or "warn" or "wrn" => LogEventLevel.Warning,
        "error" or "err" => LogEventLevel.Error,
        "fatal" or "ftl" => LogEventLevel.Fatal,
        _ => null,
    };
}
