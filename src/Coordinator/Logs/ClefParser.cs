using System.Globalization;
using System.Text.Json;
using Serilog.Events;

namespace VaeCluster.Coordinator.Logs;

/// <summary>
/// Reads one line of CLEF: "@t" time, "@mt" template (or "@m" message), "@l" level (absent means Information),
/// "@x" exception, "@r" renderings; every other field is a property.
/// </summary>
public static class ClefParser
{
    /// <returns>the event, or null when the line is not a complete CLEF event (a line still being written)</returns>
    public static ClefEvent? TryParse(string line)
    {
        if (string.IsNullOrWhiteSpace(line)) return null;
        try
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("@t", out var t)
                || !DateTimeOffset.TryParse(t.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var timestamp))
                return null;

            var properties = new Dictionary<string, JsonElement>();
            foreach (var p in root.EnumerateObject())
                if (!p.Name.StartsWith('@') || p.Name.StartsWith("@@")) properties[p.Name.StartsWith("@@") ? p.Name[1..] : p.Name] = p.Value.Clone();

            var template = String(root, "@mt") ?? String(root, "@m") ?? "";
            var renderings = root.TryGetProperty("@r", out var r) && r.ValueKind == JsonValueKind.Array
                ? r.EnumerateArray().Select(x => x.GetString() ?? "").ToList()
                : [];
            var message = String(root, "@m") ?? MessageTemplateText.Render(template, properties, renderings);
            var level = String(root, "@l") is { } l && Enum.TryParse<LogEventLevel>(l, ignoreCase: true, out var parsed)
                ? parsed
                : LogEventLevel.Information;
            return new ClefEvent(timestamp, level, template, message, String(root, "@x"), properties);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    private static string? String(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
