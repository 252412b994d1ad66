using VaeCluster.Cluster;
using Xunit;
using static VaeCluster.Tests.Deploy.DeployedNodes;

namespace VaeCluster.Tests.Deploy;

/// <summary>deploy/docker-compose.yml against ClusterDefaults and the way Akka addresses nodes.</summary>
public sealed class ComposeFileTests
{
    [Fact]
    public void Should_run_the_coordinator_on_the_default_ports_under_the_name_the_workers_seed_on()
    {
        var coordinator = ComposeCoordinator;
        Assert.Equal(ClusterDefaults.CoordinatorRole, coordinator.Command);
        Assert.Equal(ClusterDefaults.CoordinatorPort.ToString(), coordinator.Value("--port"));
        Assert.Equal(ClusterDefaults.DataPort.ToString(), coordinator.Value("--data-port"));
        Assert.Equal("0.0.0.0", coordinator.Value("--host"));
        // Akka drops messages addressed to another name than the one a node advertises.
        Assert.Equal("coordinator", coordinator.Value("--public-host"));
        Assert.Equal("coordinator", ComposeServices.Map("coordinator").Text("hostname"));
        Assert.NotNull(ComposeServices.Get("coordinator"));
        Assert.Equal(
            [ClusterDefaults.CoordinatorPort.ToString(), ClusterDefaults.DataPort.ToString()],
            ComposeServices.Map("coordinator").Seq("expose").Texts().Order());
    }

    [Fact]
    public void Should_seed_every_worker_on_the_coordinator_service()
    {
        var worker = ComposeWorker;
        Assert.Equal(ClusterDefaults.WorkerRole, worker.Command);
        Assert.Equal([$"coordinator:{ClusterDefaults.CoordinatorPort}"], worker.Values("--seed"));
        Assert.Equal("0.0.0.0", worker.Value("--host"));
    }

    [Fact]
    public void Should_let_workers_scale_without_fixed_names_or_host_ports_each_advertising_its_own_address()
    {
        var worker = ComposeServices.Map("worker");
        Assert.Null(worker.Get("container_name"));
        Assert.Null(worker.Get("ports"));
        Assert.Null(worker.Get("hostname"));
        Assert.Equal(["/bin/sh", "-c"], worker.Seq("entrypoint").Texts());
        Assert.Equal("$(hostname -i)", ComposeWorker.Value("--public-host"));
        Assert.Equal("0", ComposeWorker.Value("--port"));
        // Unescaped, Compose would substitute $(...) itself (with nothing) instead of leaving it to sh.
        Assert.Contains("$$(hostname -i)", DeployFiles.Read(ComposeFile));
    }

    [Fact]
    public void Should_start_as_many_workers_as_the_coordinator_waits_for()
    {
        var replicas = ComposeServices.Map("worker").Map("deploy").Text("replicas");
        Assert.Equal(replicas, ComposeCoordinator.Value("--workers"));
    }

    [Fact]
    public void Should_keep_the_runs_in_a_volume_at_the_images_run_folder()
    {
        Assert.Contains("runs:/work/runs", ComposeServices.Map("coordinator").Seq("volumes").Texts());
        Assert.Contains("WORKDIR /work", DeployFiles.Read("deploy/Dockerfile"));
    }

    [Fact]
    public void Should_give_the_worker_a_script_that_sh_parses()
    {
        var check = Shell.Run("sh", "-n", "-c", ComposeWorkerScript);
        Assert.True(check.ExitCode == 0, check.Output);
    }
}
