using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace VaeCluster.Tests.Deploy;

/// <summary>One start of a node (vae coordinator / vae worker) as a deploy file or a doc writes it.</summary>
public sealed partial record NodeCommand(string Source, string Command, IReadOnlyList<string> Tokens, IReadOnlyList<string> ScriptFlags)
{
    /// <summary>The flags given (--name or --name=value), including those a wrapping script adds with "set --".</summary>
    public IEnumerable<string> Flags => Tokens.Concat(ScriptFlags)
        .Where(t => Flag().IsMatch(t))
        .Select(t => t.Split('=')[0])
        .Distinct();

    public string? Value(string flag)
    {
        for (var i = 0; i < Tokens.Count; i++)
        {
            if (Tokens[i] == flag) return i + 1 < Tokens.Count ? Tokens[i + 1] : null;
            if (Tokens[i].StartsWith(flag + "=")) return Tokens[i][(flag.Length + 1)..];
        }
        return null;
    }

    public IEnumerable<string> Values(string flag) =>
        Tokens.Select((t, i) => (t, i)).Where(x => x.t == flag && x.i + 1 < Tokens.Count).Select(x => Tokens[x.i + 1]);

    public override string ToString() => $"{Source}: vae {Command} {string.Join(' ', Tokens)}";

    /// <summary>An argument list as Compose and Kubernetes hold it: the command word first.</summary>
    public static NodeCommand FromArgs(string source, IEnumerable<string> args)
    {
        var list = args.ToList();
        return new NodeCommand(source, list[0], list.Skip(1).ToList(), []);
    }

    /// <summary>Every "vae.dll|$CLI_DLL|./vae|/opt/vae/vae coordinator|worker ..." in a shell script or a document.</summary>
    public static IReadOnlyList<NodeCommand> FromScript(string source, string script)
    {
        var text = script.Replace("\\\r\n", " ").Replace("\\\n", " ");
        var setFlags = SetLine().Matches(text).SelectMany(m => Tokenize(m.Groups["rest"].Value)).ToList();
        return Invocation().Matches(text)
            .Select(m => new NodeCommand(source, m.Groups["command"].Value, Tokenize(m.Groups["rest"].Value), setFlags))
            .ToList();
    }

    /// <summary>Words as sh splits them: blanks separate, quotes group and are removed (no expansion).</summary>
    private static List<string> Tokenize(string text)
    {
        var words = new List<string>();
        var word = new System.Text.StringBuilder();
        var inWord = false;
        char? quote = null;
        foreach (var c in text)
        {
            if (quote is not null)
            {
                if (c == quote) quote = null;
                else word.Append(c);
            }
            else if (c is '"' or '\'') { quote = c; inWord = true; }
            else if (c is ' ' or '\t')
            {
                if (inWord) words.Add(word.ToString());
                word.Clear();
                inWord = false;
            }
            else { word.Append(c); inWord = true; }
        }
        if (inWord) words.Add(word.ToString());
        return words;
    }

    [GeneratedRegex(@"^--[a-z][a-z-]*(=.*)?$")]
    private static partial Regex Flag();

    [GeneratedRegex(@"(vae\.dll|\$CLI_DLL|\./vae|/opt/vae/vae)""?\s+(?<command>coordinator|worker)\b(?<rest>[^\n]*)")]
    private static partial Regex Invocation();

    [GeneratedRegex(@"\bset -- (?<rest>[^;\n]*)")]
    private static partial Regex SetLine();
}

/// <summary>The node starts in each deploy file, parsed.</summary>
public static class DeployedNodes
{
    public const string ComposeFile = "deploy/docker-compose.yml";

    public static YamlMappingNode ComposeServices => DeployFiles.LoadYaml(ComposeFile).Single().Map("services");

    public static NodeCommand ComposeCoordinator =>
        NodeCommand.FromArgs(ComposeFile + " coordinator", ComposeServices.Map("coordinator").Seq("command").Texts());

    /// <summary>The worker runs through sh -c so that each replica can advertise its own address.</summary>
    public static NodeCommand ComposeWorker =>
        NodeCommand.FromScript(ComposeFile + " worker", ComposeWorkerScript).Single();

    /// <summary>The worker's sh -c script as sh sees it: Compose turns $$ into $.</summary>
    public static string ComposeWorkerScript => ComposeServices.Map("worker").Seq("command").Texts().Single().Replace("$$", "$");

    public static YamlMappingNode PodSpec(YamlMappingNode workload) => workload.Map("spec").Map("template").Map("spec");

    public static YamlMappingNode Container(YamlMappingNode workload) => PodSpec(workload).Seq("containers").Maps().Single();

    public static YamlMappingNode CoordinatorJob => DeployFiles.KubernetesObject("Job", "vae-coordinator");
    public static YamlMappingNode WorkerJob => DeployFiles.KubernetesObject("Job", "vae-worker");
    public static YamlMappingNode CoordinatorService => DeployFiles.KubernetesObject("Service", "vae-coordinator");

    /// <summary>The coordinator's and the workers' sh -c scripts (they add --resume/--tls-cert as the volume holds them).</summary>
    public static string CoordinatorScript => Container(CoordinatorJob).Seq("args").Texts().Single();
    public static string WorkerScript => Container(WorkerJob).Seq("args").Texts().Single();

    public static NodeCommand KubernetesCoordinator =>
        NodeCommand.FromScript("deploy/k8s/coordinator-job.yaml", CoordinatorScript).Single();

    public static NodeCommand KubernetesWorker =>
        NodeCommand.FromScript("deploy/k8s/workers-job.yaml", WorkerScript).Single();

    public static IReadOnlyList<NodeCommand> LocalCluster =>
        NodeCommand.FromScript("deploy/local-cluster.sh", DeployFiles.Read("deploy/local-cluster.sh"));

    /// <summary>Every node start in deploy/ and in the docs, for checking its flags against the real CLI.</summary>
    public static IEnumerable<NodeCommand> All() =>
        new[] { ComposeCoordinator, ComposeWorker, KubernetesCoordinator, KubernetesWorker }
            .Concat(LocalCluster)
            .Concat(NodeCommand.FromScript("deploy/README.md", DeployFiles.Read("deploy/README.md")))
            .Concat(NodeCommand.FromScript("README.md", DeployFiles.Read("README.md")));
}
