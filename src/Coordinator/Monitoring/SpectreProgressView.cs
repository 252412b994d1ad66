using Serilog.Events;
using Serilog.Formatting.Display;
using Spectre.Console;
using VaeCluster.Logging;

namespace VaeCluster.Coordinator.Monitoring;

/// <summary>
/// A live progress bar on the terminal (Spectre.Console), redrawn ten times a second from the latest snapshot.
/// While it is up it owns the console: log lines are handed to it (<see cref="LiveConsole"/>) and printed above
/// the bar, so they neither tear it nor get lost; the log file is unaffected.
/// </summary>
public sealed class SpectreProgressView : IProgressView
{
    private static readonly MessageTemplateTextFormatter LineFormat = new(LoggingSetup.ConsoleTemplate);
    private readonly CancellationTokenSource stop = new();
    private readonly IDisposable consoleHandle;
    private readonly Task loop;
    private volatile ProgressSnapshot? latest;

    public SpectreProgressView()
    {
        consoleHandle = LiveConsole.HandTo(Print);
        loop = AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(),
                new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(RefreshUntilStopped);
    }

    /// <summary>Whether stdout is a terminal that can redraw in place; otherwise the plain log lines are the output.</summary>
    public static bool TerminalCanShowIt() =>
        !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities is { Ansi: true, Interactive: true };

    public void Show(ProgressSnapshot snapshot) => latest = snapshot;

    public void Dispose()
    {
        stop.Cancel();
        try { loop.Wait(TimeSpan.FromSeconds(2)); }
        catch (AggregateException) { /* the display failed; the run's outcome matters more */ }
        consoleHandle.Dispose();
        stop.Dispose();
    }

    private async Task RefreshUntilStopped(ProgressContext context)
    {
        var task = context.AddTask("starting", maxValue: 1);
        while (!stop.IsCancellationRequested)
        {
            Update(task);
            try { await Task.Delay(100, stop.Token); }
            catch (OperationCanceledException) { break; }
        }
        Update(task);
    }

    private void Update(ProgressTask task)
    {
        if (latest is not { } s) return;
        task.MaxValue = s.RunSteps;
        task.Value = s.RunStepsDone;
        var speed = s.SamplesPerSecond is double r ? $"{r:N0} samples/s" : "- samples/s";
        var reassigned = s.ReassignedShards > 0 ? $"  {s.ReassignedShards} shards reassigned" : "";
        task.Description = Markup.Escape(
            $"epoch {s.Epoch}/{s.Epochs}  step {s.StepsDone}/{s.StepsPerEpoch}  loss {s.Loss:F2}  {speed}  {s.Workers} workers{reassigned}");
    }

    private static void Print(LogEvent logEvent)
    {
        // Periodic step lines (they carry StepInEpoch) say what the bar already shows; the file still has them.
        if (logEvent.Level == LogEventLevel.Information && logEvent.Properties.ContainsKey("StepInEpoch")) return;
        using var line = new StringWriter();
        LineFormat.Format(logEvent, line);
        AnsiConsole.Write(new Text(line.ToString()));
    }
}
