using System.Text.Json;
using Serilog.Events;

namespace VaeCluster.Coordinator.Logs;

/// <summary>
/// One log event read back from a CLEF file (Serilog's compact JSON): its time, level, template, the message
/// rendered from them, and the raw properties.
/// </summary>
public sealed record ClefEvent(
    DateTimeOffset Timestamp, LogEventLevel Level, string Template, string Message, string? Exception,
    IReadOnlyDictionary<string, JsonElement> Properties)
{
    /// <summary>A property as plain text (strings unquoted), or null when the event does not carry it.</summary>
    public string? Text(string property) => Properties.TryGetValue(property, out var value)
        ? value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText()
        : null;
}
