using VaeCluster.Cluster;
using Xunit;
using Xunit.Abstractions;

namespace VaeCluster.Tests.Deploy;

/// <summary>Every YAML file under deploy/ parses, and every script (deploy/, scripts/, ./vae) passes bash -n and shellcheck.</summary>
public sealed class DeployScriptTests(ITestOutputHelper output)
{
    public static TheoryData<string> YamlFiles() => [.. DeployFiles.YamlFiles()];

    /// <summary>The scripts of deploy/ and scripts/, the ./vae entry point and the launcher ./vae publish ships.</summary>
    public static TheoryData<string> Scripts() =>
        [.. Directory.EnumerateFiles(DeployFiles.Deploy, "*.sh")
            .Concat(Directory.EnumerateFiles(Path.Combine(DeployFiles.Root, "scripts"), "*.sh"))
            .Select(f => Path.GetRelativePath(DeployFiles.Root, f))
            .Concat(["vae", "scripts/published/vae"])
            .Order()];

    [Theory]
    [MemberData(nameof(YamlFiles))]
    public void Should_parse_every_yaml_file(string file)
    {
        var documents = DeployFiles.LoadYaml(file);
        Assert.NotEmpty(documents);
        Assert.All(documents, d => Assert.NotEmpty(d.Children));
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Should_pass_bash_syntax_check_and_shellcheck(string script)
    {
        var syntax = Shell.Run("bash", "-n", script);
        Assert.True(syntax.ExitCode == 0, syntax.Output);
        // A script with a #! line is run; one without (scripts/setup.sh) is sourced.
        if (DeployFiles.Read(script).StartsWith("#!"))
            Assert.True(Shell.Run("test", "-x", script).ExitCode == 0, $"{script} is not executable");
        if (!Shell.Has("shellcheck"))
        {
            output.WriteLine("shellcheck is not installed (apt-get install shellcheck): only bash -n was checked");
            return;
        }
        var lint = Shell.Run("shellcheck", "-x", script);
        Assert.True(lint.ExitCode == 0, lint.Output);
    }

    [Fact]
    public void Should_start_one_coordinator_and_workers_seeded_on_it_over_loopback_in_the_local_cluster_script()
    {
        var nodes = DeployedNodes.LocalCluster;
        var coordinator = Assert.Single(nodes, n => n.Command == ClusterDefaults.CoordinatorRole);
        var worker = Assert.Single(nodes, n => n.Command == ClusterDefaults.WorkerRole);
        Assert.Equal("127.0.0.1", coordinator.Value("--public-host"));
        Assert.Equal("127.0.0.1:$port", worker.Value("--seed"));
        Assert.Equal("$port", coordinator.Value("--port"));
        var script = DeployFiles.Read("deploy/local-cluster.sh");
        Assert.Contains($"port=${{COORDINATOR_PORT:-{ClusterDefaults.CoordinatorPort}}}", script);
        Assert.Contains($"data_port=${{DATA_PORT:-{ClusterDefaults.DataPort}}}", script);
        Assert.Contains("trap stop_nodes EXIT", script);
    }

    [Fact]
    public void Should_find_the_node_starts_of_every_deploy_file_and_doc_for_the_cli_flag_check()
    {
        var sources = DeployedNodes.All().Select(n => (n.Source.Split(' ')[0], n.Command)).ToHashSet();
        foreach (var source in new[] { "deploy/docker-compose.yml", "deploy/k8s/coordinator-job.yaml", "deploy/local-cluster.sh", "deploy/README.md", "README.md" })
            Assert.Contains((source, ClusterDefaults.CoordinatorRole), sources);
        foreach (var source in new[] { "deploy/docker-compose.yml", "deploy/k8s/workers-job.yaml", "deploy/local-cluster.sh", "deploy/README.md", "README.md" })
            Assert.Contains((source, ClusterDefaults.WorkerRole), sources);
    }
}
