using Spectre.Console;

namespace VaeCluster.Coordinator.Monitoring;

/// <summary>
/// The two lines of the live display, as Spectre markup: where the run is, then how it goes. Each is kept
/// within the terminal's width, because a line the terminal wraps breaks the redrawing in place.
/// </summary>
public static class ProgressLines
{
    private const int MinBar = 10, MaxBar = 40;

    public static (string Position, string Health) Format(ProgressSnapshot s, int width)
    {
        double done = s.RunSteps == 0 ? 1 : Math.Clamp((double)s.RunStepsDone / s.RunSteps, 0, 1);
        var where = $"epoch {s.Epoch}/{s.Epochs}  step {s.StepsDone}/{s.StepsPerEpoch}";
        var after = $"{done * 100,3:F0}%  {(s.Remaining is { } left ? $"{(int)left.TotalHours:00}:{left:mm\\:ss} left" : "--:--:-- left")}";
        int bar = Math.Clamp(width - where.Length - after.Length - 6, MinBar, MaxBar);
        int filled = (int)Math.Round(done * bar);
        var position = $"{Markup.Escape(where)}  [green]{new string('━', filled)}[/][grey35]{new string('━', bar - filled)}[/] {Markup.Escape(after)}";

        var speed = s.SamplesPerSecond is double r ? $"{r:N0} samples/s" : "- samples/s";
        var reassigned = s.ReassignedShards > 0 ? $"  {s.ReassignedShards} shards reassigned" : "";
        var health = $"loss {s.Loss:F2}  {speed}  {s.Workers} workers{reassigned}";
        if (health.Length >= width) health = health[..Math.Max(0, width - 1)];
        return (position, Markup.Escape(health));
    }

    /// <summary>
    /// Text to print above the display: cut into rows shorter than the terminal and padded to that width. Spectre
    /// writes it over the rows the display occupied without clearing them, so each row must cover an old one
    /// fully, and must not be wrapped by the terminal, which Spectre would not know about.
    /// </summary>
    public static string Above(string text, int width)
    {
        int row = Math.Max(20, width - 1);
        var rows = new List<string>();
        foreach (var line in text.Replace("\r", "").Replace("\t", "    ").TrimEnd('\n').Split('\n'))
        {
            for (int start = 0; start == 0 || start < line.Length; start += row)
                rows.Add(line.Substring(start, Math.Min(row, line.Length - start)).PadRight(row));
        }
        return string.Concat(rows.Select(r => r + "\n"));
    }
}
