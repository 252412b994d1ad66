using Serilog.Events;
using Serilog.Formatting.Display;

namespace VaeCluster.Coordinator.Monitoring;

/// <summary>
/// Reads the coordinator's log events as run events. The coordinator publishes only StepApplied and
/// TrainingFinished on the event stream; joins, pauses, stalls, skipped steps and checkpoints exist only as log
/// events, so they are recognised here by their message templates (the text before the values are filled in).
/// A template that changes falls back to a plain Info/Warning/Error event: shown, only not counted.
/// </summary>
public static class RunEventReader
{
    /// <summary>As on the console: strings without quotes.</summary>
    private static readonly MessageTemplateTextFormatter Message = new("{Message:lj}");

    private static readonly (string Fragment, RunEventKind Kind)[] Templates =
    [
        ("Worker node {Worker} registered", RunEventKind.Join),
        ("connected its data plane", RunEventKind.Join),
        ("Worker node {Worker} left", RunEventKind.Leave),
        ("Paused at step", RunEventKind.Pause),
        ("Resuming at step", RunEventKind.Resume),
        ("has waited", RunEventKind.Stall),
        ("missed the {Timeout} deadline", RunEventKind.Reassign),
        ("skipped: its loss", RunEventKind.Skip),
        ("Checkpoint written", RunEventKind.Checkpoint),
        ("Epoch {Epoch} done", RunEventKind.Epoch),
        ("Training complete", RunEventKind.Finish),
    ];

    /// <returns>null for events a watcher does not show: debug chatter and the periodic step lines, which the
    /// charts already show</returns>
    public static RunEvent? Read(LogEvent e)
    {
        var template = e.MessageTemplate.Text;
        var kind = Templates.FirstOrDefault(t => template.Contains(t.Fragment, StringComparison.Ordinal)).Kind;
        if (kind == RunEventKind.Info)
        {
            if (e.Level < LogEventLevel.Information || e.Properties.ContainsKey("StepInEpoch")) return null;
            kind = e.Level switch
            {
                >= LogEventLevel.Error => RunEventKind.Error,
                LogEventLevel.Warning => RunEventKind.Warning,
                _ => RunEventKind.Info,
            };
        }
        using var text = new StringWriter();
        Message.Format(e, text);
        return new RunEvent(e.Timestamp, e.Level.ToString(), kind, text.ToString(),
            Text(e, "Worker"), Text(e, "Remote"), kind == RunEventKind.Epoch ? Figures(e) : null);
    }

    private static EpochFigures? Figures(LogEvent e) =>
        Number(e, "Epoch") is { } epoch && Number(e, "TrainLoss") is { } train && Number(e, "TestLoss") is { } test
            ? new EpochFigures((int)epoch, train, test, Number(e, "SamplesPerSecond") ?? 0)
            : null;

    private static string? Text(LogEvent e, string name) =>
        e.Properties.TryGetValue(name, out var v) && v is ScalarValue { Value: { } value } ? value.ToString() : null;

    private static double? Number(LogEvent e, string name) =>
        e.Properties.TryGetValue(name, out var v) && v is ScalarValue { Value: IConvertible value }
            ? value.ToDouble(System.Globalization.CultureInfo.InvariantCulture)
            : null;
}
