using System.CommandLine;
using System.CommandLine.Parsing;

namespace VaeCluster.Coordinator.Cli;

/// <summary>
/// A command line that does not parse gets one line on stderr, as every other user error does: what is wrong,
/// and where the flags are described. The whole help text after it would bury the one sentence that matters.
/// </summary>
public static class ParseErrors
{
    public static int Report(ParseResult result, TextWriter error)
    {
        var command = result.CommandResult.Command;
        var problems = command.Action is null && command.Subcommands.Count > 0
            // "Required command was not provided": say which there are.
            ? [(result.UnmatchedTokens.Count > 0 ? $"unknown command or flag '{result.UnmatchedTokens[0]}'; " : "")
               + $"give a command: {string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))}"]
            : result.Errors.Select(e => string.Join(' ', e.Message.Split('\n', StringSplitOptions.TrimEntries)).TrimEnd('.')).Distinct();
        error.WriteLine($"error: {string.Join("; ", problems)} (see {CommandPath(result.CommandResult)} --help)");
        return UserError.ExitCode;
    }

    private static string CommandPath(CommandResult command)
    {
        var names = new List<string>();
        for (SymbolResult? r = command; r is CommandResult c; r = c.Parent)
            names.Insert(0, c.Parent is null ? "./vae" : c.Command.Name); // the root command is the launcher
        return string.Join(' ', names);
    }
}
