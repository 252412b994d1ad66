using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace VaeCluster.Tests.Deploy;

/// <summary>The files under deploy/ (and the scripts they must agree with), read for the deploy tests.</summary>
public static partial class DeployFiles
{
    public static string Root { get; } = RepositoryRoot();
    public static string Deploy => Path.Combine(Root, "deploy");

    public static string Read(string relativePath) => File.ReadAllText(Path.Combine(Root, relativePath));

    public static IEnumerable<string> YamlFiles() =>
        Directory.EnumerateFiles(Deploy, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yml") || f.EndsWith(".yaml"))
            .Select(f => Path.GetRelativePath(Root, f))
            .Order();

    /// <summary>Every YAML document in the file (a file may hold several, separated by ---).</summary>
    public static IReadOnlyList<YamlMappingNode> LoadYaml(string relativePath)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(Read(relativePath)));
        return stream.Documents.Select(d => (YamlMappingNode)d.RootNode).ToList();
    }

    /// <summary>
    /// The Kubernetes objects in one folder of deploy/k8s (not its subfolders), kustomization excepted, with the file
    /// each came from: "" is the run (deploy/k8s), "storage" the runs volume, "tools" the helper pods.
    /// </summary>
    public static IReadOnlyList<(string File, YamlMappingNode Object)> KubernetesObjects(string folder = "") =>
        Directory.EnumerateFiles(Path.Combine(Deploy, "k8s", folder), "*.yaml")
            .Where(f => Path.GetFileName(f) != "kustomization.yaml")
            .Order()
            .SelectMany(f => LoadYaml(Path.GetRelativePath(Root, f)).Select(o => (Path.GetFileName(f), o)))
            .ToList();

    /// <summary>Every Kubernetes object anywhere under deploy/k8s, kustomizations excepted.</summary>
    public static IReadOnlyList<(string File, YamlMappingNode Object)> AllKubernetesObjects() =>
        Directory.EnumerateDirectories(Path.Combine(Deploy, "k8s"), "*", SearchOption.AllDirectories)
            .Select(d => Path.GetRelativePath(Path.Combine(Deploy, "k8s"), d))
            .Prepend("")
            .SelectMany(d => KubernetesObjects(d))
            .ToList();

    public static YamlMappingNode KubernetesObject(string kind, string name) =>
        KubernetesObjects().Single(o => o.Object.Text("kind") == kind && o.Object.Map("metadata").Text("name") == name).Object;

    /// <summary>MD5 sums as "md5  file" pairs in a text, e.g. scripts/setup.sh's MNIST_MD5 or the Dockerfile's check.</summary>
    public static IReadOnlyDictionary<string, string> Md5Sums(string text) =>
        Md5Line().Matches(text).ToDictionary(m => m.Groups["file"].Value, m => m.Groups["md5"].Value);

    /// <summary>A variable assigned in scripts/setup.sh, e.g. TCMALLOC=/usr/lib/....</summary>
    public static string SetupVariable(string name) =>
        Regex.Match(Read("scripts/setup.sh"), $@"^{name}=(\S+)$", RegexOptions.Multiline) is { Success: true } m
            ? m.Groups[1].Value
            : throw new InvalidOperationException($"scripts/setup.sh sets no {name}");

    [GeneratedRegex(@"(?<md5>\b[0-9a-f]{32})\s+(?<file>(train|t10k)-[a-z0-9-]+-ubyte)")]
    private static partial Regex Md5Line();

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "VaeCluster.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("repository root not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>Small accessors over YamlDotNet's node model, failing with the missing key's name.</summary>
public static class YamlNodes
{
    public static YamlNode? Get(this YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    public static YamlMappingNode Map(this YamlMappingNode node, string key) =>
        node.Get(key) as YamlMappingNode ?? throw new KeyNotFoundException($"no mapping '{key}'");

    public static YamlSequenceNode Seq(this YamlMappingNode node, string key) =>
        node.Get(key) as YamlSequenceNode ?? throw new KeyNotFoundException($"no sequence '{key}'");

    public static string Text(this YamlMappingNode node, string key) =>
        (node.Get(key) as YamlScalarNode)?.Value ?? throw new KeyNotFoundException($"no scalar '{key}'");

    public static IEnumerable<string> Texts(this YamlSequenceNode node) => node.Children.Select(c => ((YamlScalarNode)c).Value!);

    public static IEnumerable<YamlMappingNode> Maps(this YamlSequenceNode node) => node.Children.Cast<YamlMappingNode>();
}
