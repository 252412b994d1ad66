using VaeCluster.Coordinator.Run;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>
/// What happens when nodes die or arrive, with real processes on loopback, checked through the step ledger and
/// the digest of the final parameters.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class FaultToleranceTests : IDisposable
{
    private const int TrainLimit = 2560; // 20 steps of 128 per epoch
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);
    private readonly string work = Directory.CreateTempSubdirectory("vae-faults-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public void Deterministic_runs_end_with_identical_parameters_for_1_2_3_workers_in_process_and_across_nodes_of_1_and_2_workers_with_a_node_killed()
    {
        string[] common = ["--deterministic", "--epochs", "2", "--train-limit", $"{TrainLimit}", "--checkpoint-every", "1000"];
        var digests = new Dictionary<string, string>();
        foreach (int workers in new[] { 1, 2, 3 })
        {
            var result = CliProcess.Run(work, ["train", "--workers", $"{workers}", "--run", Path.Combine(work, $"single{workers}"), .. common]);
            Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
            digests[$"{workers} workers in one process"] = ClusterNodes.ParametersDigest(result.StdOut);
        }

        using var nodes = new ClusterNodes(work, Path.Combine(work, "cluster"));
        var coordinator = nodes.StartCoordinator(["--workers", "3", .. common]);
        var doomed = nodes.StartWorker("doomed");
        // Two whole shards at once, their tensors over TCP, beside a node on shared memory.
        var survivor = nodes.StartWorker("survivor", "--workers", "2", "--transport", "tcp");
        ClusterNodes.Drain(doomed);
        ClusterNodes.Drain(survivor);
        Assert.True(nodes.WaitForSteps(5, Patience), "the cluster never trained");
        doomed.Kill(); // SIGKILL mid-run
        string output = ClusterNodes.Finish(coordinator, Patience);
        Assert.True(coordinator.ExitCode == 0, output);
        digests["nodes of 1 and 2 workers, the first killed"] = ClusterNodes.ParametersDigest(output);

        Assert.True(digests.Values.Distinct().Count() == 1, string.Join("\n", digests.Select(d => $"{d.Key}: {d.Value}")));
        AssertEveryStepOnce(StepLedger.Read(nodes.Ledger), steps: 40);
    }

    [Fact]
    public void A_cluster_run_pauses_when_a_worker_is_killed_resumes_when_another_joins_and_applies_every_step_once()
    {
        using var nodes = new ClusterNodes(work, Path.Combine(work, "run"));
        var coordinator = nodes.StartCoordinator("--workers", "2", "--min-workers", "2", "--epochs", "2", "--train-limit", $"{TrainLimit}", "--step-timeout", "10");
        var doomed = nodes.StartWorker("doomed");
        var steady = nodes.StartWorker("steady");
        ClusterNodes.Drain(doomed);
        ClusterNodes.Drain(steady);
        Assert.True(nodes.WaitForSteps(8, Patience), "the cluster never trained");
        doomed.Kill();
        Thread.Sleep(TimeSpan.FromSeconds(3));
        int pausedAt = nodes.LedgerCount();
        Thread.Sleep(TimeSpan.FromSeconds(2));
        Assert.Equal(pausedAt, nodes.LedgerCount()); // one worker left, --min-workers 2: paused
        var late = nodes.StartWorker("late");
        ClusterNodes.Drain(late);
        string output = ClusterNodes.Finish(coordinator, Patience);
        Assert.True(coordinator.ExitCode == 0, output);
        Assert.Contains("Paused at step", output);
        Assert.Contains("Resuming at step", output);

        var ledger = StepLedger.Read(nodes.Ledger);
        AssertEveryStepOnce(ledger, steps: 40);
        Assert.Contains(ledger, e => e.Workers.Contains("doomed"));
        Assert.Contains(ledger, e => e.Workers.Contains("late"));
        Assert.DoesNotContain(ledger.SkipWhile(e => !e.Workers.Contains("late")), e => e.Workers.Contains("doomed"));

        // The same seed undisturbed, in one process: the loss must land within a nat of it.
        var calm = CliProcess.Run(work, "train", "--workers", "2", "--epochs", "2", "--train-limit", $"{TrainLimit}", "--run", Path.Combine(work, "calm"));
        Assert.True(calm.ExitCode == 0, calm.StdOut + calm.StdErr);
        double disturbed = new MetricsLog(Path.Combine(nodes.Run, "metrics.jsonl")).Read().Last().TestLoss;
        double undisturbed = new MetricsLog(Path.Combine(work, "calm", "metrics.jsonl")).Read().Last().TestLoss;
        Assert.True(Math.Abs(disturbed - undisturbed) < 1.0, $"test loss {disturbed} vs undisturbed {undisturbed}");
    }

    [Fact]
    public void A_killed_coordinator_resumes_from_its_checkpoint_and_its_workers_rejoin_by_themselves()
    {
        const int checkpointEvery = 5;
        using var nodes = new ClusterNodes(work, Path.Combine(work, "run"));
        var first = nodes.StartCoordinator("--workers", "2", "--epochs", "2", "--train-limit", $"{TrainLimit}", "--checkpoint-every", $"{checkpointEvery}");
        ClusterNodes.Drain(first);
        var a = nodes.StartWorker("a");
        var b = nodes.StartWorker("b");
        ClusterNodes.Drain(a);
        ClusterNodes.Drain(b);
        Assert.True(nodes.WaitForSteps(12, Patience), "the cluster never trained");
        first.Kill(); // SIGKILL: no Bye, no last checkpoint
        first.WaitForExit();
        int appliedBeforeDeath = nodes.LedgerCount();

        var second = nodes.ResumeCoordinator("--workers", "2");
        string output = ClusterNodes.Finish(second, Patience);
        Assert.True(second.ExitCode == 0, output);
        var resumedAt = System.Text.RegularExpressions.Regex.Match(output, @"Resuming \S+ at epoch \d+, step (\d+)");
        Assert.True(resumedAt.Success, output);
        int redone = appliedBeforeDeath - int.Parse(resumedAt.Groups[1].Value);
        // Mid-epoch checkpoints are written in the background: killed while the newest was on its way to disk, the
        // run resumes from the one before, so at most two intervals are redone.
        Assert.InRange(redone, 0, 2 * checkpointEvery);

        var ledger = StepLedger.Read(nodes.Ledger);
        AssertEveryStepOnce(ledger, steps: 40);
        var afterResume = ledger.Where(e => e.GlobalStep >= appliedBeforeDeath).SelectMany(e => e.Workers).Distinct().Order();
        Assert.Equal(["a", "b"], afterResume); // both workers found the new coordinator on their own
        Assert.True(a.WaitForExit(TimeSpan.FromSeconds(30)) && b.WaitForExit(TimeSpan.FromSeconds(30)), "workers did not exit after the resumed run");
    }

    [Fact]
    public void An_interrupted_single_process_run_with_one_worker_resumes_to_the_parameters_of_an_uninterrupted_run()
    {
        // 200 steps: long enough that the signal lands mid-run even on a fast machine.
        string[] common = ["--workers", "1", "--train-limit", "12800", "--checkpoint-every", "5"];
        var calm = CliProcess.Run(work, ["train", "--epochs", "2", "--run", Path.Combine(work, "calm"), .. common]);
        Assert.True(calm.ExitCode == 0, calm.StdOut + calm.StdErr);

        string run = Path.Combine(work, "interrupted");
        using var first = CliProcess.Start(work, ["train", "--epochs", "2", "--run", run, .. common]);
        ClusterNodes.Drain(first);
        Assert.True(SpinWait.SpinUntil(() => StepLedger.Read(Path.Combine(run, "ledger.jsonl")).Count >= 12, Patience), "the run never trained");
        using (var term = System.Diagnostics.Process.Start("kill", ["-TERM", $"{first.Id}"])) term.WaitForExit();
        Assert.True(first.WaitForExit(TimeSpan.FromSeconds(60)), "SIGTERM did not stop the run");
        Assert.Equal(130, first.ExitCode);
        Assert.False(File.Exists(Path.Combine(run, "model.safetensors")));

        var resumed = CliProcess.Run(work, "train", "--resume", run);
        Assert.True(resumed.ExitCode == 0, resumed.StdOut + resumed.StdErr);
        Assert.Equal(ClusterNodes.ParametersDigest(calm.StdOut), ClusterNodes.ParametersDigest(resumed.StdOut)); // bit for bit
        AssertEveryStepOnce(StepLedger.Read(Path.Combine(run, "ledger.jsonl")), steps: 200);
    }

    [Fact]
    public void Nodes_with_the_wrong_secret_or_none_cannot_join_the_cluster_while_one_with_the_right_secret_trains()
    {
        string right = Path.Combine(work, "right.secret"), wrong = Path.Combine(work, "wrong.secret");
        File.WriteAllText(right, "correct horse battery staple\n");
        File.WriteAllText(wrong, "Tr0ub4dor&3 is not the secret\n");
        using var nodes = new ClusterNodes(work, Path.Combine(work, "run"));
        var coordinator = nodes.StartCoordinator("--workers", "1", "--epochs", "1", "--train-limit", "1280", "--secret-file", right);
        var intruder = nodes.StartWorker("intruder", "--secret-file", wrong);
        var stranger = nodes.StartWorker("stranger"); // no secret at all: plain TCP against a TLS transport
        ClusterNodes.Drain(intruder);
        ClusterNodes.Drain(stranger);
        Thread.Sleep(TimeSpan.FromSeconds(8));
        Assert.Equal(0, nodes.LedgerCount()); // never admitted: the coordinator is still waiting for a worker
        Assert.False(intruder.HasExited || stranger.HasExited); // still knocking: they never got in to be refused
        intruder.Kill();
        stranger.Kill();

        var member = nodes.StartWorker("member", "--secret-file", right);
        ClusterNodes.Drain(member);
        string output = ClusterNodes.Finish(coordinator, Patience);
        Assert.True(coordinator.ExitCode == 0, output);
        Assert.Contains("akka.ssl.tcp://", output); // the secret put the cluster transport under TLS
        Assert.DoesNotContain("intruder", output); // never a member, never offered the data plane
        var ledger = StepLedger.Read(nodes.Ledger);
        Assert.Equal(10, ledger.Count);
        Assert.All(ledger, e => Assert.Equal(["member"], e.Workers));
    }

    [Fact]
    public void A_diverging_cluster_run_stops_with_one_line_leaving_its_checkpoints_and_the_skipped_steps_in_the_ledger()
    {
        // --lr 100 breaks the model within a few dozen steps. The mixture model's autograd loss then throws in every
        // worker (binary cross-entropy refuses NaN), so the failure travels back as ShardFailed; the reference VAE's
        // hand-written step would answer NaN instead, skipped as not finite.
        string run = Path.Combine(work, "diverged");
        var result = CliProcess.Run(work, "train", "--cluster", "--workers", "2", "--lr", "100", "--epochs", "1",
            "--train-limit", "12800", "--checkpoint-every", "5", "--model", "mixture", "--run", run);
        string output = result.StdOut + result.StdErr;
        Assert.True(result.ExitCode == 1, output);
        Assert.Matches(@"loss diverged at step \d+; try a lower --lr", output);
        Assert.DoesNotContain("   at ", output); // no stack trace
        Assert.False(File.Exists(Path.Combine(run, "model.safetensors")));

        var ledger = StepLedger.Read(Path.Combine(run, "ledger.jsonl"));
        Assert.Equal(Enumerable.Range(0, ledger.Count).Select(i => (long)i), ledger.Select(e => e.GlobalStep));
        var streak = ledger.TakeLast(VaeCluster.Coordinator.CoordinatorActor.DivergedAfterSkips).ToList();
        Assert.All(streak, e => Assert.True(e.Skipped));
        Assert.Contains(streak, e => e.SkipReason is { } why && why.Contains("could not compute"));
        Assert.Contains(ledger, e => !e.Skipped); // it trained before it diverged
        var newest = new VaeCluster.Checkpoints.CheckpointStore(Path.Combine(run, "checkpoints"), keep: int.MaxValue).LoadNewestGood(_ => { });
        Assert.NotNull(newest);
    }

    [Fact]
    public void Over_tls_a_node_with_another_certificate_cannot_join_while_one_with_the_clusters_certificate_trains()
    {
        string cluster = SelfSignedPfx("cluster"), stranger = SelfSignedPfx("stranger");
        using var nodes = new ClusterNodes(work, Path.Combine(work, "run"));
        var coordinator = nodes.StartCoordinator("--workers", "1", "--epochs", "1", "--train-limit", "1280", "--tls-cert", cluster);
        var intruder = nodes.StartWorker("intruder", "--tls-cert", stranger);
        ClusterNodes.Drain(intruder);
        // Until its attempt has been refused (a fixed sleep is too short on a loaded machine).
        string coordinatorLog = Path.Combine(nodes.Run, "logs", "coordinator.clef");
        Assert.True(SpinWait.SpinUntil(() => ReadShared(coordinatorLog).Contains("TLS handshake failure"), Patience), "the stranger never tried to join");
        Assert.Equal(0, nodes.LedgerCount()); // never admitted: the coordinator is still waiting for a worker
        intruder.Kill();

        var member = nodes.StartWorker("member", "--tls-cert", cluster);
        ClusterNodes.Drain(member);
        string output = ClusterNodes.Finish(coordinator, Patience);
        Assert.True(coordinator.ExitCode == 0, output);
        Assert.Contains("akka.ssl.tcp://", output);
        Assert.Contains("TLS handshake failure", output); // the stranger's attempt, logged
        Assert.All(StepLedger.Read(nodes.Ledger), e => Assert.Equal(["member"], e.Workers));
    }

    /// <summary>A file another process is writing, or "" while it does not exist yet.</summary>
    private static string ReadShared(string path)
    {
        try
        {
            using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
            return reader.ReadToEnd();
        }
        catch (IOException) { return ""; }
    }

    /// <summary>A throwaway certificate with its key, as the PKCS#12 file --tls-cert takes (no password).</summary>
    private string SelfSignedPfx(string name)
    {
        using var key = System.Security.Cryptography.RSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest(
            $"CN={name}", key, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        string path = Path.Combine(work, $"{name}.pfx");
        File.WriteAllBytes(path, certificate.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pfx));
        return path;
    }

    internal static void AssertEveryStepOnce(IReadOnlyList<LedgerEntry> ledger, int steps)
    {
        Assert.Equal(Enumerable.Range(0, steps).Select(i => (long)i), ledger.Select(e => e.GlobalStep));
        Assert.All(ledger, e => Assert.Equal(128, e.Samples));
        Assert.All(ledger, e => Assert.False(e.Skipped));
    }
}
