using System.Text.RegularExpressions;
using VaeCluster.Tests.EndToEnd;
using Xunit;

namespace VaeCluster.Tests.Deploy;

/// <summary>
/// The commands and flags that deploy/ and the docs give to `vae coordinator` and `vae worker` exist in the real CLI,
/// as its --help lists them. Needs the cluster commands: until they exist these tests FAIL, on purpose (run the rest
/// meanwhile with dotnet test --filter "Needs!=ClusterCli").
/// </summary>
[Trait("Needs", "ClusterCli")]
public sealed partial class DeployCliFlagsTests
{
    [Theory]
    [InlineData("coordinator")]
    [InlineData("worker")]
    public void Should_use_only_flags_that_the_cli_command_lists_in_its_help(string command)
    {
        var known = HelpOptions(command);
        var uses = DeployedNodes.All().Where(n => n.Command == command).ToList();
        Assert.NotEmpty(uses);
        var unknown = uses.SelectMany(n => n.Flags.Where(f => !known.Contains(f)).Select(f => $"{f} in {n}")).ToList();
        Assert.True(unknown.Count == 0, $"not among the flags of 'vae {command} --help' ({string.Join(' ', known)}):\n{string.Join('\n', unknown)}");
    }

    /// <summary>The long flags in the Options section of `vae COMMAND --help`; fails if the command does not exist.</summary>
    private static HashSet<string> HelpOptions(string command)
    {
        var work = Directory.CreateTempSubdirectory("vae-help-").FullName;
        try
        {
            var help = CliProcess.Run(work, command, "--help");
            Assert.True(help.ExitCode == 0, help.StdOut + help.StdErr);
            // An unknown command prints the root help (exit 0), so the usage line is what tells.
            Assert.True(Regex.IsMatch(help.StdOut, $@"^\s*vae {command} \[options\]", RegexOptions.Multiline),
                $"'vae {command}' does not exist yet; --help printed:\n{help.StdOut}");
            var options = help.StdOut.Split("Options:", 2)[1].Split("\n\n")[0];
            return OptionSpec().Matches(options)
                .SelectMany(m => LongFlag().Matches(m.Groups["spec"].Value).Select(f => f.Value))
                .ToHashSet();
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [GeneratedRegex(@"^ {2}(?<spec>-\S.*?)(\s{2,}|$)", RegexOptions.Multiline)]
    private static partial Regex OptionSpec();

    [GeneratedRegex(@"--[a-z][a-z-]*")]
    private static partial Regex LongFlag();
}
