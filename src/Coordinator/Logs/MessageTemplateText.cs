using System.Text;
using System.Text.Json;

namespace VaeCluster.Coordinator.Logs;

/// <summary>
/// Renders a Serilog message template with the properties of a CLEF event, as the console sink's <c>:lj</c>
/// does: strings unquoted, other values as JSON. A token with a format ({Loss:F2}) takes its text from the
/// event's "@r" renderings, which the compact formatter writes, in template order, for exactly those tokens.
/// </summary>
public static class MessageTemplateText
{
    public static string Render(string template, IReadOnlyDictionary<string, JsonElement> properties, IReadOnlyList<string> renderings)
    {
        var text = new StringBuilder(template.Length + 32);
        int nextRendering = 0;
        for (int i = 0; i < template.Length; i++)
        {
            char c = template[i];
            if ((c == '{' || c == '}') && i + 1 < template.Length && template[i + 1] == c)
            {
                text.Append(c); // "{{" and "}}" stand for one brace
                i++;
                continue;
            }
            int close = c == '{' ? template.IndexOf('}', i + 1) : -1;
            if (close < 0)
            {
                text.Append(c);
                continue;
            }
            var token = template.Substring(i + 1, close - i - 1);
            text.Append(RenderToken(token, properties, renderings, ref nextRendering));
            i = close;
        }
        return text.ToString();
    }

    private static string RenderToken(string token, IReadOnlyDictionary<string, JsonElement> properties, IReadOnlyList<string> renderings, ref int nextRendering)
    {
        var body = token.TrimStart('@', '$');
        int colon = body.IndexOf(':');
        string? format = colon >= 0 ? body[(colon + 1)..] : null;
        var nameAndAlignment = colon >= 0 ? body[..colon] : body;
        int comma = nameAndAlignment.IndexOf(',');
        var name = comma >= 0 ? nameAndAlignment[..comma] : nameAndAlignment;
        int alignment = comma >= 0 && int.TryParse(nameAndAlignment[(comma + 1)..], out int a) ? a : 0;

        string value;
        if (format is not null && nextRendering < renderings.Count) value = renderings[nextRendering++];
        else if (properties.TryGetValue(name, out var property))
            value = property.ValueKind == JsonValueKind.String ? property.GetString()! : property.GetRawText();
        else return "{" + token + "}"; // Serilog, too, leaves a token it has no value for as it is
        return alignment >= 0 ? value.PadLeft(alignment) : value.PadRight(-alignment);
    }
}
