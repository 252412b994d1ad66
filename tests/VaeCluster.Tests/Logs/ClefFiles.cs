using System.Text.Json;

namespace VaeCluster.Tests.Logs;

/// <summary>Hand-made CLEF lines, as Serilog's compact formatter writes them for the nodes of a cluster run.</summary>
public static class ClefFiles
{
    public static readonly DateTimeOffset Start = new(2026, 1, 2, 10, 0, 0, TimeSpan.Zero);

    public static string FromCoordinator(double secondsAfterStart, string template, object? properties = null, string? level = null, string[]? renderings = null) =>
        Line(secondsAfterStart, template, new { Role = "coordinator", Node = "alpha/100" }, properties, level, renderings);

    public static string FromWorker(int id, double secondsAfterStart, string template, object? properties = null, string? level = null) =>
        Line(secondsAfterStart, template, new { Role = "worker", Node = $"beta/{200 + id}", Worker = $"worker-{id}" }, properties, level, null);

    private static string Line(double seconds, string template, object node, object? properties, string? level, string[]? renderings)
    {
        var fields = new Dictionary<string, object?> { ["@t"] = Start.AddSeconds(seconds).ToString("O"), ["@mt"] = template };
        if (level is not null) fields["@l"] = level;
        if (renderings is not null) fields["@r"] = renderings;
        foreach (var source in new[] { properties, node })
            if (source is not null)
                foreach (var p in source.GetType().GetProperties()) fields[p.Name] = p.GetValue(source);
        return JsonSerializer.Serialize(fields);
    }
}
