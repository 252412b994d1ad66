using VaeCluster.Cluster;
using Xunit;
using YamlDotNet.RepresentationModel;
using static VaeCluster.Tests.Deploy.DeployedNodes;

namespace VaeCluster.Tests.Deploy;

/// <summary>deploy/k8s against ClusterDefaults, each other, and the way Akka addresses nodes.</summary>
public sealed class KubernetesManifestTests
{
    private static readonly string ServiceName = CoordinatorService.Map("metadata").Text("name");
    private static readonly YamlMappingNode[] Workloads = [CoordinatorJob, WorkerJob];

    [Fact]
    public void Should_list_every_manifest_of_its_folder_in_each_kustomization()
    {
        foreach (var folder in new[] { "", "storage" })
        {
            var dir = Path.Combine(DeployFiles.Deploy, "k8s", folder);
            var listed = DeployFiles.LoadYaml(Path.Combine("deploy/k8s", folder, "kustomization.yaml")).Single().Seq("resources").Texts().Order();
            var present = Directory.EnumerateFiles(dir, "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml").Order();
            Assert.Equal(present, listed);
        }
    }

    [Fact]
    public void Should_leave_the_namespace_to_whoever_applies_them()
    {
        Assert.All(DeployFiles.AllKubernetesObjects(), o => Assert.Null(o.Object.Map("metadata").Get("namespace")));
    }

    [Fact]
    public void Should_keep_the_runs_volume_out_of_the_run_so_that_deleting_a_run_keeps_the_results()
    {
        // `kubectl delete -k deploy/k8s` deletes what that kustomization lists: never the volume with the runs.
        Assert.DoesNotContain(DeployFiles.KubernetesObjects(), o => o.Object.Text("kind") == "PersistentVolumeClaim");
        var claim = Assert.Single(DeployFiles.KubernetesObjects("storage"), o => o.Object.Text("kind") == "PersistentVolumeClaim").Object;
        var volume = PodSpec(CoordinatorJob).Seq("volumes").Maps().Single(v => v.Get("persistentVolumeClaim") is not null);
        Assert.Equal(claim.Map("metadata").Text("name"), volume.Map("persistentVolumeClaim").Text("claimName"));
        var mount = Container(CoordinatorJob).Seq("volumeMounts").Maps().Single(m => m.Text("name") == volume.Text("name"));
        Assert.Equal("/work/runs", mount.Text("mountPath"));
        Assert.Contains("WORKDIR /work", DeployFiles.Read("deploy/Dockerfile"));
    }

    [Fact]
    public void Should_run_workers_as_an_indexed_job_so_that_a_worker_that_exits_after_bye_stays_done()
    {
        var spec = WorkerJob.Map("spec");
        Assert.Equal("Indexed", spec.Text("completionMode"));
        // Only a failed worker is started again; one that exited 0 (after the coordinator's Bye) completes its index.
        Assert.Equal("OnFailure", PodSpec(WorkerJob).Text("restartPolicy"));
        Assert.Equal("OnFailure", PodSpec(CoordinatorJob).Text("restartPolicy"));
        var longRunning = new[] { "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ReplicationController" };
        Assert.DoesNotContain(DeployFiles.AllKubernetesObjects(), o => longRunning.Contains(o.Object.Text("kind")));
        Assert.Equal("worker-$JOB_COMPLETION_INDEX", KubernetesWorker.Value("--name"));
    }

    [Fact]
    public void Should_take_the_worker_count_from_one_setting_for_both_the_coordinator_and_the_workers_job()
    {
        var settings = RunSettings();
        Assert.True(int.TryParse(settings["WORKERS"], out var workers) && workers >= 1, "WORKERS is a whole number");
        Assert.Equal("$WORKERS", KubernetesCoordinator.Value("--workers"));
        Assert.Equal("$EPOCHS", KubernetesCoordinator.Value("--epochs"));
        Assert.Equal(RunConfigMap, Container(CoordinatorJob).Seq("envFrom").Maps().Single().Map("configMapRef").Text("name"));

        var replacement = Kustomization.Seq("replacements").Maps().Single();
        Assert.Equal("ConfigMap", replacement.Map("source").Text("kind"));
        Assert.Equal(RunConfigMap, replacement.Map("source").Text("name"));
        Assert.Equal("data.WORKERS", replacement.Map("source").Text("fieldPath"));
        var target = replacement.Seq("targets").Maps().Single();
        Assert.Equal(("Job", "vae-worker"), (target.Map("select").Text("kind"), target.Map("select").Text("name")));
        Assert.Equal(["spec.completions", "spec.parallelism"], target.Seq("fieldPaths").Texts().Order());
    }

    [Fact]
    public void Should_train_a_fresh_run_for_each_job_and_resume_it_after_a_restart()
    {
        var env = Container(CoordinatorJob).Seq("env").Maps().ToDictionary(e => e.Text("name"));
        Assert.Equal("metadata.labels['batch.kubernetes.io/controller-uid']", env["JOB_UID"].Map("valueFrom").Map("fieldRef").Text("fieldPath"));
        using var sandbox = new ScriptSandbox(CoordinatorScript);

        var first = sandbox.Run(("JOB_UID", "uid-1"));
        Assert.Equal(0, first.ExitCode);
        Assert.Equal(sandbox.Runs + "/uid-1", first.Node.Value("--run"));
        Assert.Null(first.Node.Value("--resume"));

        // Killed before its first checkpoint: the restarted pod resumes it (from step 0), never starts it afresh.
        sandbox.Started("uid-1");
        Assert.Equal(sandbox.Runs + "/uid-1", sandbox.Run(("JOB_UID", "uid-1")).Node.Value("--resume"));
        Assert.Equal(RunSettings()["WORKERS"], first.Node.Value("--workers"));
        Assert.Equal(RunSettings()["EPOCHS"], first.Node.Value("--epochs"));

        sandbox.Checkpoint("uid-1");
        Assert.Equal(sandbox.Runs + "/uid-1", sandbox.Run(("JOB_UID", "uid-1")).Node.Value("--resume"));

        // A new Job (a new apply after the old one was deleted) starts a run of its own beside the finished one.
        Assert.Equal(sandbox.Runs + "/uid-2", sandbox.Run(("JOB_UID", "uid-2")).Node.Value("--run"));
    }

    [Fact]
    public void Should_continue_an_earlier_run_named_by_resume_and_refuse_one_without_a_checkpoint()
    {
        Assert.True(RunSettings().ContainsKey("RESUME"), "kustomization.yaml offers RESUME");
        using var sandbox = new ScriptSandbox(CoordinatorScript);
        sandbox.Checkpoint("uid-1");
        Assert.Equal(sandbox.Runs + "/uid-1", sandbox.Run(("JOB_UID", "uid-3"), ("RESUME", "uid-1")).Node.Value("--resume"));

        var missing = sandbox.Run(("JOB_UID", "uid-3"), ("RESUME", "uid-9"));
        Assert.Equal(2, missing.ExitCode);
        Assert.StartsWith("error: RESUME=uid-9", Assert.Single(missing.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)));

        var nameless = sandbox.Run(("JOB_UID", ""));
        Assert.Equal(2, nameless.ExitCode);
        Assert.StartsWith("error: no run name", nameless.Output);
    }

    [Fact]
    public void Should_give_every_node_the_cluster_secret_from_a_kubernetes_secret()
    {
        var variable = $"{ClusterDefaults.EnvironmentPrefix}{ClusterDefaults.Section.ToUpperInvariant()}__SECRET";
        foreach (var workload in Workloads)
        {
            var secret = Container(workload).Seq("env").Maps().Single(e => e.Text("name") == variable).Map("valueFrom").Map("secretKeyRef");
            Assert.Equal("vae-cluster", secret.Text("name"));
            // Not optional: a pod without the secret does not start, rather than run an open cluster.
            Assert.Null(secret.Get("optional"));
        }
        // The secret itself is never part of the manifests: each namespace makes its own.
        Assert.DoesNotContain(DeployFiles.AllKubernetesObjects(), o => o.Object.Text("kind") == "Secret");
        Assert.Contains("kubectl create secret generic vae-cluster --from-literal=secret=", DeployFiles.Read("deploy/README.md"));
    }

    [Fact]
    public void Should_use_the_optional_tls_secret_only_when_it_is_there()
    {
        foreach (var (workload, script) in new[] { (CoordinatorJob, CoordinatorScript), (WorkerJob, WorkerScript) })
        {
            var volume = PodSpec(workload).Seq("volumes").Maps().Single(v => v.Get("secret") is not null);
            Assert.Equal("vae-cluster-tls", volume.Map("secret").Text("secretName"));
            Assert.Equal("true", volume.Map("secret").Text("optional"));
            // It holds the private key: readable by the pod's own group (fsGroup, the image's user), no one else.
            Assert.Equal("0440", volume.Map("secret").Text("defaultMode"));
            var security = PodSpec(workload).Map("securityContext");
            Assert.Equal(security.Text("runAsGroup"), security.Text("fsGroup"));
            var mount = Container(workload).Seq("volumeMounts").Maps().Single(m => m.Text("name") == volume.Text("name"));
            Assert.Equal("true", mount.Text("readOnly"));
            Assert.Contains($"if [ -f {mount.Text("mountPath")}/cluster.pfx ]", script);
            var password = Container(workload).Seq("env").Maps().Single(e => e.Text("name") == "VAE_CLUSTER__TLSPASSWORD").Map("valueFrom").Map("secretKeyRef");
            Assert.Equal(("vae-cluster-tls", "true"), (password.Text("name"), password.Text("optional")));
        }

        using var sandbox = new ScriptSandbox(CoordinatorScript);
        Assert.Null(sandbox.Run(("JOB_UID", "uid-1")).Node.Value("--tls-cert"));
        sandbox.AddTlsCertificate();
        Assert.Equal(sandbox.Tls + "/cluster.pfx", sandbox.Run(("JOB_UID", "uid-1")).Node.Value("--tls-cert"));
        using var workers = new ScriptSandbox(WorkerScript);
        workers.AddTlsCertificate();
        var worker = workers.Run(("POD_IP", "10.1.2.3"), ("JOB_COMPLETION_INDEX", "1")).Node;
        Assert.Equal((workers.Tls + "/cluster.pfx", "10.1.2.3", "worker-1"), (worker.Value("--tls-cert"), worker.Value("--public-host"), worker.Value("--name")));
    }

    [Fact]
    public void Should_admit_the_akka_and_data_plane_ports_only_from_the_clusters_own_pods()
    {
        var policies = DeployFiles.KubernetesObjects().Where(o => o.Object.Text("kind") == "NetworkPolicy").Select(o => o.Object).ToList();
        foreach (var workload in Workloads)
        {
            var podLabels = Labels(workload.Map("spec").Map("template").Map("metadata").Map("labels"));
            var selecting = policies.Where(p => Labels(p.Map("spec").Map("podSelector").Map("matchLabels")).All(l => podLabels.Contains(l))).ToList();
            Assert.NotEmpty(selecting);
            var rules = selecting.SelectMany(p => p.Map("spec").Seq("ingress").Maps()).ToList();
            Assert.All(selecting, p => Assert.Contains("Ingress", p.Map("spec").Seq("policyTypes").Texts()));
            foreach (var rule in rules)
            {
                // A rule without "from" would admit everyone; a namespaceSelector or ipBlock, pods of other namespaces.
                var peers = rule.Seq("from").Maps().ToList();
                Assert.NotEmpty(peers);
                Assert.All(peers, peer => Assert.Equal(["podSelector"], peer.Children.Keys.Select(k => ((YamlScalarNode)k).Value)));
                Assert.All(peers, peer => Assert.Equal("vaecluster", peer.Map("podSelector").Map("matchLabels").Text("app.kubernetes.io/name")));
            }
            var admitted = rules.SelectMany(r => r.Seq("ports").Maps().Select(p => p.Text("port"))).Order();
            var declared = Container(workload).Seq("ports").Maps().Select(p => p.Text("containerPort")).Order();
            Assert.Equal(declared, admitted);
        }
    }

    [Fact]
    public void Should_probe_the_coordinator_over_http_and_workers_on_their_akka_port()
    {
        // The coordinator serves /healthz and /readyz on its dashboard port (--http 0.0.0.0:8080).
        var coordinator = Container(CoordinatorJob);
        Assert.Equal(("/readyz", "http"), (coordinator.Map("readinessProbe").Map("httpGet").Text("path"), coordinator.Map("readinessProbe").Map("httpGet").Text("port")));
        Assert.Equal(("/healthz", "http"), (coordinator.Map("livenessProbe").Map("httpGet").Text("path"), coordinator.Map("livenessProbe").Map("httpGet").Text("port")));
        Assert.Contains("http", coordinator.Seq("ports").Maps().Select(p => p.Text("name")));
        // Workers serve no HTTP: a TCP connect to the Akka port. Restarting one costs a rejoin: allow a minute of failures.
        var probe = Container(WorkerJob).Map("livenessProbe");
        Assert.Equal("akka", probe.Map("tcpSocket").Text("port"));
        Assert.Contains("akka", Container(WorkerJob).Seq("ports").Maps().Select(p => p.Text("name")));
        Assert.True(int.Parse(probe.Text("periodSeconds")) * int.Parse(probe.Text("failureThreshold")) >= 60);
    }

    [Fact]
    public void Should_meet_pod_security_restricted_in_every_pod()
    {
        var allowedVolumes = new[] { "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret" };
        var pods = DeployFiles.AllKubernetesObjects().Where(o => o.Object.Text("kind") is "Job" or "Pod").ToList();
        Assert.Equal(3, pods.Count);
        foreach (var (file, pod) in pods)
        {
            var spec = pod.Text("kind") == "Pod" ? pod.Map("spec") : PodSpec(pod);
            var security = spec.Map("securityContext");
            Assert.Equal("true", security.Text("runAsNonRoot"));
            Assert.NotEqual("0", security.Text("runAsUser"));
            Assert.Equal("RuntimeDefault", security.Map("seccompProfile").Text("type"));
            foreach (var key in new[] { "hostNetwork", "hostPID", "hostIPC" }) Assert.Null(spec.Get(key));
            foreach (var container in spec.Seq("containers").Maps())
            {
                var own = container.Map("securityContext");
                Assert.Equal("false", own.Text("allowPrivilegeEscalation"));
                Assert.Equal(["ALL"], own.Map("capabilities").Seq("drop").Texts());
                Assert.Null(own.Map("capabilities").Get("add"));
                Assert.Null(own.Get("privileged"));
                Assert.All(container.Get("ports") is YamlSequenceNode ports ? ports.Maps() : [], p => Assert.Null(p.Get("hostPort")));
            }
            var volumes = spec.Get("volumes") is YamlSequenceNode list ? list.Maps() : [];
            Assert.All(volumes, v => Assert.Contains(v.Children.Keys.Select(k => ((YamlScalarNode)k).Value).Single(k => k != "name"), allowedVolumes));
        }
        // The pods of the image run as the user the Dockerfile makes.
        Assert.All(Workloads, w => Assert.Contains($"USER {PodSpec(w).Map("securityContext").Text("runAsUser")}", DeployFiles.Read("deploy/Dockerfile")));
    }

    [Fact]
    public void Should_keep_the_service_variables_of_kubernetes_out_of_the_VAE_settings()
    {
        // Service links would add VAE_COORDINATOR_SERVICE_HOST and the like, under the prefix the CLI reads settings from.
        Assert.StartsWith(ClusterDefaults.EnvironmentPrefix, "VAE_COORDINATOR");
        Assert.All(Workloads, w => Assert.Equal("false", PodSpec(w).Text("enableServiceLinks")));
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
        Assert.Equal("$POD_IP", worker.Value("--public-host"));
        var env = Container(WorkerJob).Seq("env").Maps().ToDictionary(e => e.Text("name"));
        Assert.Equal("status.podIP", env["POD_IP"].Map("valueFrom").Map("fieldRef").Text("fieldPath"));
        var akka = Container(WorkerJob).Seq("ports").Maps().Single(p => p.Text("name") == "akka");
        Assert.Equal(akka.Text("containerPort"), worker.Value("--port"));
    }

    [Fact]
    public void Should_request_one_cpu_and_one_gibibyte_per_worker()
    {
        var requests = Container(WorkerJob).Map("resources").Map("requests");
        Assert.Equal("1", requests.Text("cpu"));
        Assert.Equal("1Gi", requests.Text("memory"));
    }

    [Fact]
    public void Should_give_scripts_that_sh_parses()
    {
        foreach (var script in new[] { CoordinatorScript, WorkerScript })
        {
            var check = Shell.Run("sh", "-n", "-c", script);
            Assert.True(check.ExitCode == 0, check.Output);
        }
    }

    private static YamlMappingNode Kustomization => DeployFiles.LoadYaml("deploy/k8s/kustomization.yaml").Single();

    private static string RunConfigMap => Kustomization.Seq("configMapGenerator").Maps().Single().Text("name");

    /// <summary>The run's settings, the literals of the ConfigMap kustomization.yaml generates.</summary>
    public static Dictionary<string, string> RunSettings() =>
        Kustomization.Seq("configMapGenerator").Maps().Single().Seq("literals").Texts()
            .Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

    private static HashSet<(string, string)> Labels(YamlMappingNode labels) =>
        labels.Children.Select(c => (((YamlScalarNode)c.Key).Value!, ((YamlScalarNode)c.Value).Value!)).ToHashSet();

    /// <summary>
    /// A pod's sh -c script run here: /opt/vae/vae replaced by a stub that prints its arguments, /work/runs and
    /// /etc/vae/tls by temporary folders; the run settings from kustomization.yaml in the environment.
    /// </summary>
    private sealed class ScriptSandbox : IDisposable
    {
        private readonly string root = Directory.CreateTempSubdirectory("vae-k8s-script-").FullName;
        private readonly string script;

        public ScriptSandbox(string podScript)
        {
            Directory.CreateDirectory(Runs);
            Directory.CreateDirectory(Tls);
            var stub = Path.Combine(root, "vae");
            File.WriteAllText(stub, "#!/bin/sh\nprintf '%s\\n' \"$@\"\n");
            Assert.Equal(0, Shell.Run("chmod", "+x", stub).ExitCode);
            Assert.Contains("/opt/vae/vae ", podScript);
            script = podScript.Replace("/opt/vae/vae", stub).Replace("/work/runs", Runs).Replace("/etc/vae/tls", Tls);
        }

        public string Runs => Path.Combine(root, "runs");
        public string Tls => Path.Combine(root, "tls");

        /// <summary>A run that started (config.json is its first file), killed before its first checkpoint.</summary>
        public void Started(string run)
        {
            Directory.CreateDirectory(Path.Combine(Runs, run));
            File.WriteAllText(Path.Combine(Runs, run, "config.json"), "{}");
        }

        public void Checkpoint(string run)
        {
            Started(run);
            Directory.CreateDirectory(Path.Combine(Runs, run, "checkpoints"));
            File.WriteAllText(Path.Combine(Runs, run, "checkpoints", "step-00000005.ckpt"), "");
        }

        public void AddTlsCertificate() => File.WriteAllText(Path.Combine(Tls, "cluster.pfx"), "");

        public (int ExitCode, string Output, NodeCommand Node) Run(params (string Name, string Value)[] env)
        {
            var environment = RunSettings().ToDictionary(p => p.Key, p => (string?)p.Value);
            foreach (var (name, value) in env) environment[name] = value;
            var result = Shell.Run(environment, "sh", "-c", script);
            var words = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return (result.ExitCode, result.Output, NodeCommand.FromArgs("sandbox", result.ExitCode == 0 ? words : ["none"]));
        }

        public void Dispose() => Directory.Delete(root, recursive: true);
    }
}
