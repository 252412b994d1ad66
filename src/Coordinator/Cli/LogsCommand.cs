using System.CommandLine;
using VaeCluster.Coordinator.Logs;
using VaeCluster.Coordinator.Run;

namespace VaeCluster.Coordinator.Cli;

/// <summary>./vae logs: the structured logs of every node of a run, merged in time order and pretty-printed.</summary>
public static class LogsCommand
{
    private static readonly Argument<string> RunDir = new("RUN_DIR") { Description = "Run directory (default runs/latest).", DefaultValueFactory = _ => Path.Combine("runs", "latest") };
    private static readonly Option<bool> Follow = new("--follow", "-f") { Description = "Keep printing new events, from every node, until Ctrl-C." };
    private static readonly Option<string?> Level = new("--level") { Description = "Lowest level shown: verbose, debug, information, warning, error or fatal (default: all)." };
    private static readonly Option<string?> Node = new("--node") { Description = "Only events of this role, worker or node (coordinator, worker-1, host or host/pid)." };
    private static readonly Option<string?> Event = new("--event") { Description = "Only events whose message or template contains this text (case-insensitive)." };

    public static Command Create()
    {
        var command = new Command("logs", "Print the logs of every node of a run (RUN_DIR/logs/*.clef) in time order.")
        {
            RunDir, Follow, Level, Node, Event,
        };
        command.SetAction((result, cancel) => UserError.Report(async () =>
        {
            var filter = new LogFilter(ParseLevel(result.GetValue(Level)), result.GetValue(Node), result.GetValue(Event));
            var run = RunArgument.Existing(result.GetValue(RunDir), "RUN_DIR");
            var logs = new RunLogs(run.Logs);
            bool colour = !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null;
            void Print(ClefEvent e)
            {
                if (filter.Matches(e)) Console.WriteLine(LogLine.Format(e, colour));
            }

            if (result.GetValue(Follow))
            {
                await logs.FollowAsync(Print, TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(500), cancel);
                return 0;
            }
            foreach (var e in logs.ReadAll()) Print(e);
            if (logs.Files == 0) throw new RunFileError(run.Logs, "no log files (*.clef) yet");
            if (logs.Unreadable > 0) Console.Error.WriteLine($"note: skipped {logs.Unreadable} line(s) that are not CLEF events");
            return 0;
        }));
        return command;
    }

    private static Serilog.Events.LogEventLevel ParseLevel(string? text) => text is null
        ? Serilog.Events.LogEventLevel.Verbose
        : LogFilter.ParseLevel(text) ?? throw new UserError($"--level must be verbose, debug, information, warning, error or fatal, got '{text}'");
}
