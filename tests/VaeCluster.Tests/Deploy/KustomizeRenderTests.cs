using Xunit;
using Xunit.Abstractions;
using YamlDotNet.RepresentationModel;

namespace VaeCluster.Tests.Deploy;

/// <summary>
/// deploy/k8s as kubectl renders it (`kubectl kustomize`, offline): what `kubectl apply -k` would send. Needs kubectl
/// 1.27+ (Debian 12's kubernetes-client 1.20 carries a kustomize too old for `replacements`); without kubectl on
/// PATH the tests say so and check nothing.
/// </summary>
public sealed class KustomizeRenderTests(ITestOutputHelper output)
{
    [Fact]
    public void Should_render_the_run_with_as_many_worker_pods_as_the_coordinator_waits_for_and_no_volume()
    {
        if (Render("deploy/k8s") is not { } objects) return;
        Assert.Equal(["ConfigMap", "Job", "Job", "NetworkPolicy", "NetworkPolicy", "Service"], objects.Select(o => o.Text("kind")).Order());
        var settings = KubernetesManifestTests.RunSettings();
        var configMap = objects.Single(o => o.Text("kind") == "ConfigMap");
        Assert.Equal(settings["WORKERS"], configMap.Map("data").Text("WORKERS"));
        var workers = objects.Single(o => o.Text("kind") == "Job" && o.Map("metadata").Text("name") == "vae-worker").Map("spec");
        Assert.Equal(settings["WORKERS"], workers.Text("parallelism"));
        Assert.Equal(settings["WORKERS"], workers.Text("completions"));
        // kustomize gives the ConfigMap a hashed name and must rewrite the coordinator's reference to it.
        var coordinator = objects.Single(o => o.Text("kind") == "Job" && o.Map("metadata").Text("name") == "vae-coordinator");
        Assert.Equal(configMap.Map("metadata").Text("name"),
            DeployedNodes.Container(coordinator).Seq("envFrom").Maps().Single().Map("configMapRef").Text("name"));
    }

    [Fact]
    public void Should_render_the_storage_as_the_runs_volume_alone()
    {
        if (Render("deploy/k8s/storage") is not { } objects) return;
        var claim = Assert.Single(objects);
        Assert.Equal(("PersistentVolumeClaim", "vae-runs"), (claim.Text("kind"), claim.Map("metadata").Text("name")));
    }

    private List<YamlMappingNode>? Render(string folder)
    {
        if (!Shell.Has("kubectl"))
        {
            output.WriteLine("kubectl is not installed: the rendering was not checked");
            return null;
        }
        // Debian 12's kubernetes-client (1.20) embeds kustomize 2, which knows neither `labels` nor `replacements`.
        var version = System.Text.RegularExpressions.Regex.Match(Shell.Run("kubectl", "version", "--client").Output, @"v1\.(\d+)\.");
        if (!version.Success || int.Parse(version.Groups[1].Value) < 27)
        {
            output.WriteLine($"kubectl older than 1.27 ({(version.Success ? version.Value : "version unknown")}): the rendering was not checked");
            return null;
        }
        var render = Shell.Run("kubectl", "kustomize", folder);
        Assert.True(render.ExitCode == 0, render.Output);
        var stream = new YamlStream();
        stream.Load(new StringReader(render.Output));
        return stream.Documents.Select(d => (YamlMappingNode)d.RootNode).ToList();
    }
}
