using VaeCluster.Cluster;
using Xunit;
using YamlDotNet.RepresentationModel;
using static VaeCluster.Tests.Deploy.DeployedNodes;

namespace VaeCluster.Tests.Deploy;

/// <summary>deploy/k8s against ClusterDefaults, each other, and the way Akka addresses nodes.</summary>
public sealed class KubernetesManifestTests
{
    private static readonly string ServiceName = CoordinatorService.Map("metadata").Text("name");

    [Fact]
    public void Should_list_every_manifest_in_the_kustomization()
    {
        var listed = DeployFiles.LoadYaml("deploy/k8s/kustomization.yaml").Single().Seq("resources").Texts().Order();
        var present = Directory.EnumerateFiles(Path.Combine(DeployFiles.Deploy, "k8s"), "*.yaml")
            .Select(Path.GetFileName).Where(f => f != "kustomization.yaml").Order();
        Assert.Equal(present, listed);
    }

    [Fact]
    public void Should_leave_the_namespace_to_whoever_applies_them()
    {
        Assert.All(DeployFiles.KubernetesObjects(), o => Assert.Null(o.Object.Map("metadata").Get("namespace")));
    }

    [Fact]
    public void Should_expose_the_coordinators_named_ports_at_the_defaults()
    {
        var ports = CoordinatorService.Map("spec").Seq("ports").Maps().ToDictionary(p => p.Text("name"));
        Assert.Equal(ClusterDefaults.CoordinatorPort.ToString(), ports["akka"].Text("port"));
        Assert.Equal(ClusterDefaults.DataPort.ToString(), ports["data"].Text("port"));

        var containerPorts = Container(CoordinatorJob).Seq("ports").Maps().ToDictionary(p => p.Text("name"), p => p.Text("containerPort"));
        Assert.Equal(ClusterDefaults.CoordinatorPort.ToString(), containerPorts["akka"]);
        Assert.Equal(ClusterDefaults.DataPort.ToString(), containerPorts["data"]);
        Assert.All(ports.Values, p => Assert.Contains(p.Text("targetPort"), containerPorts.Keys));

        var coordinator = KubernetesCoordinator;
        Assert.Equal(ClusterDefaults.CoordinatorRole, coordinator.Command);
        Assert.Equal(containerPorts["akka"], coordinator.Value("--port"));
        Assert.Equal(containerPorts["data"], coordinator.Value("--data-port"));
        Assert.Equal("0.0.0.0", coordinator.Value("--host"));
    }

    [Fact]
    public void Should_select_the_coordinator_pod_with_the_service()
    {
        var selector = CoordinatorService.Map("spec").Map("selector");
        var podLabels = CoordinatorJob.Map("spec").Map("template").Map("metadata").Map("labels");
        Assert.All(selector.Children, label => Assert.Equal(label.Value, podLabels.Get(((YamlScalarNode)label.Key).Value!)));
    }

    [Fact]
    public void Should_advertise_the_coordinator_under_the_service_name_the_workers_seed_on()
    {
        Assert.Equal(ServiceName, KubernetesCoordinator.Value("--public-host"));
        Assert.Equal([$"{ServiceName}:{ClusterDefaults.CoordinatorPort}"], KubernetesWorker.Values("--seed"));
    }

    [Fact]
    public void Should_have_each_worker_advertise_its_pod_ip_on_its_declared_port()
    {
        var worker = KubernetesWorker;
        Assert.Equal(ClusterDefaults.WorkerRole, worker.Command);
        Assert.Equal("0.0.0.0", worker.Value("--host"));
        Assert.Equal("$(POD_IP)", worker.Value("--public-host"));
        var env = Container(WorkerDeployment).Seq("env").Maps().ToDictionary(e => e.Text("name"));
        Assert.Equal("status.podIP", env["POD_IP"].Map("valueFrom").Map("fieldRef").Text("fieldPath"));
        var akka = Container(WorkerDeployment).Seq("ports").Maps().Single(p => p.Text("name") == "akka");
        Assert.Equal(akka.Text("containerPort"), worker.Value("--port"));
    }

    [Fact]
    public void Should_start_as_many_workers_as_the_coordinator_waits_for()
    {
        Assert.Equal(WorkerDeployment.Map("spec").Text("replicas"), KubernetesCoordinator.Value("--workers"));
    }

    [Fact]
    public void Should_request_one_cpu_and_one_gibibyte_per_worker()
    {
        var requests = Container(WorkerDeployment).Map("resources").Map("requests");
        Assert.Equal("1", requests.Text("cpu"));
        Assert.Equal("1Gi", requests.Text("memory"));
    }

    [Fact]
    public void Should_keep_the_runs_on_a_claimed_volume_at_the_images_run_folder()
    {
        var mount = Container(CoordinatorJob).Seq("volumeMounts").Maps().Single();
        Assert.Equal("/work/runs", mount.Text("mountPath"));
        var volume = PodSpec(CoordinatorJob).Seq("volumes").Maps().Single(v => v.Text("name") == mount.Text("name"));
        var claim = volume.Map("persistentVolumeClaim").Text("claimName");
        Assert.Single(DeployFiles.KubernetesObjects(), o => o.Object.Text("kind") == "PersistentVolumeClaim" && o.Object.Map("metadata").Text("name") == claim);
        Assert.Contains("run=/work/runs/", CoordinatorScript);
    }

    [Fact]
    public void Should_run_every_pod_as_the_images_non_root_user()
    {
        foreach (var workload in new[] { CoordinatorJob, WorkerDeployment })
        {
            var security = PodSpec(workload).Map("securityContext");
            Assert.Equal("true", security.Text("runAsNonRoot"));
            Assert.Equal("1654", security.Text("runAsUser"));
        }
    }

    [Fact]
    public void Should_resume_the_run_when_the_coordinator_restarts()
    {
        Assert.Equal("OnFailure", PodSpec(CoordinatorJob).Text("restartPolicy"));
        Assert.Contains("--resume", KubernetesCoordinator.Flags);
        var check = Shell.Run("sh", "-n", "-c", CoordinatorScript);
        Assert.True(check.ExitCode == 0, check.Output);
    }
}
