using Serilog.Events;
using Serilog.Formatting.Display;
using Spectre.Console;
using Spectre.Console.Rendering;
using VaeCluster.Logging;

namespace VaeCluster.Coordinator.Monitoring;

/// <summary>
/// A live progress display on the terminal (Spectre.Console), redrawn ten times a second from the latest snapshot.
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
        loop = AnsiConsole.Live(Render()).AutoClear(false).Overflow(VerticalOverflow.Ellipsis).StartAsync(RefreshUntilStopped);
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

    private async Task RefreshUntilStopped(LiveDisplayContext context)
    {
        while (!stop.IsCancellationRequested)
        {
            context.UpdateTarget(Render());
            try { await Task.Delay(100, stop.Token); }
            catch (OperationCanceledException) { break; }
        }
        context.UpdateTarget(Render());
    }

    private IRenderable Render()
    {
        if (latest is not { } s) return new Text("starting...");
        var (position, health) = ProgressLines.Format(s, AnsiConsole.Profile.Width);
        return new Rows(new Markup(position), new Markup(health));
    }

    private static void Print(LogEvent logEvent)
    {
        // Periodic step lines (they carry StepInEpoch) say what the bar already shows; the file still has them.
        if (logEvent.Level == LogEventLevel.Information && logEvent.Properties.ContainsKey("StepInEpoch")) return;
        using var line = new StringWriter();
        LineFormat.Format(logEvent, line);
        AnsiConsole.Write(new Text(ProgressLines.Above(line.ToString(), AnsiConsole.Profile.Width)));
    }
}
