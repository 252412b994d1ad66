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
    public void Should_leave_a_worker_that_exited_after_bye_down_and_restart_only_a_crashed_one_a_few_times()
    {
        Assert.Equal("no", ComposeServices.Map("coordinator").Text("restart"));
        // on-failure:N restarts only a non-zero exit; "always" or "unless-stopped" would start a finished worker again.
        Assert.Matches(@"^(no|on-failure:\d+)$", ComposeServices.Map("worker").Text("restart"));
    }

    [Fact]
    public void Should_wait_for_the_coordinator_instead_of_racing_the_workers_with_exit_code_from()
    {
        // --exit-code-from implies --abort-on-container-exit: the first worker to exit after Bye stops the stack.
        foreach (var file in new[] { ComposeFile, "deploy/README.md" })
        {
            var text = DeployFiles.Read(file);
            var commands = text.Split('\n').Where(l => l.TrimStart('#', ' ').StartsWith("docker compose")).ToList();
            Assert.Contains(commands, c => c.Contains("wait coordinator"));
            Assert.DoesNotContain(commands, c => c.Contains("--exit-code-from") || c.Contains("--abort-on-container-exit"));
        }
    }

    [Fact]
    public void Should_build_the_image_from_the_folder_that_vae_publish_writes()
    {
        foreach (var service in new[] { "coordinator", "worker" })
        {
            var build = ComposeServices.Map(service).Map("<<").Map("build");
            Assert.Equal("../out/vae", build.Text("context"));
            Assert.Equal("../../deploy/Dockerfile", build.Text("dockerfile"));
        }
        Assert.Contains("out=$ROOT/out/vae", DeployFiles.Read("scripts/publish.sh"));
    }

    [Fact]
    public void Should_give_every_node_the_same_optional_secret()
    {
        foreach (var service in new[] { "coordinator", "worker" })
            Assert.Equal("${VAE_CLUSTER_SECRET:-}", ComposeServices.Map(service).Map("environment").Text("VAE_CLUSTER__SECRET"));
    }

    [Fact]
    public void Should_give_the_worker_a_script_that_sh_parses()
    {
        var check = Shell.Run("sh", "-n", "-c", ComposeWorkerScript);
        Assert.True(check.ExitCode == 0, check.Output);
    }
}
