using System.Diagnostics;
using VaeCluster.Coordinator.Run;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>
/// Churn and strangers at once: a deterministic cluster of a coordinator and 3 workers, one worker SIGKILLed and
/// replaced every 4-7 s, while nodes without the cluster's secret (none, or another) try to join and are killed.
/// The run must end with the undisturbed run's parameters, every step in the ledger once, and no process left.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class ChaosTests : IDisposable
{
    private const int TrainLimit = 128 * 468;
    private const int Epochs = 2; // 936 steps: long enough here for several kills
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);
    private readonly string work = Directory.CreateTempSubdirectory("vae-chaos-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public async Task A_deterministic_cluster_under_worker_kills_and_strangers_ends_with_the_undisturbed_parameters_and_every_step_once()
    {
        string[] common = ["--deterministic", "--epochs", $"{Epochs}", "--train-limit", $"{TrainLimit}", "--checkpoint-every", "50"];
        var calm = CliProcess.Run(work, ["train", "--workers", "3", "--run", Path.Combine(work, "calm"), .. common]);
        Assert.True(calm.ExitCode == 0, calm.StdOut + calm.StdErr);

        string secret = Path.Combine(work, "cluster.secret"), other = Path.Combine(work, "other.secret");
        File.WriteAllText(secret, "correct horse battery staple\n");
        File.WriteAllText(other, "Tr0ub4dor&3 is not the secret\n");
        using var nodes = new ClusterNodes(work, Path.Combine(work, "chaos"));
        var coordinator = nodes.StartCoordinator(["--workers", "3", "--secret-file", secret, .. common]);
        var output = Collect(coordinator);
        var started = new List<Process>();
        var workers = new List<Process>();
        Process StartWorker(string name, params string[] args)
        {
            var p = nodes.StartWorker(name, args);
            ClusterNodes.Drain(p);
            started.Add(p);
            return p;
        }
        for (int i = 1; i <= 3; i++) workers.Add(StartWorker($"w{i}", "--secret-file", secret));

        var random = new Random(11);
        int kills = 0, strangers = 0;
        Process? stranger = null;
        const int steps = Epochs * TrainLimit / 128;
        Assert.True(nodes.WaitForSteps(1, Patience), "the cluster never trained");
        while (!coordinator.WaitForExit(TimeSpan.FromSeconds(4 + 3 * random.NextDouble())))
        {
            // The last replacements must have time to join: a worker still starting when the run ends is not the run's.
            if (nodes.LedgerCount() > steps * 0.85) continue;
            var victim = workers[random.Next(workers.Count)];
            victim.Kill(); // SIGKILL: no goodbye, no leave
            workers.Remove(victim);
            workers.Add(StartWorker($"w{3 + ++kills}", "--secret-file", secret));
            stranger?.Kill();
            // Every other stranger has no secret at all (plain TCP), the others another secret (another TLS key).
            stranger = StartWorker($"stranger{++strangers}", strangers % 2 == 0 ? [] : ["--secret-file", other]);
        }
        stranger?.Kill();
        string log = await output;
        Assert.True(coordinator.ExitCode == 0, log);
        Assert.True(kills >= 2, $"only {kills} workers were killed: the run was too short to show anything");

        Assert.Equal(ClusterNodes.ParametersDigest(calm.StdOut), ClusterNodes.ParametersDigest(log));
        FaultToleranceTests.AssertEveryStepOnce(StepLedger.Read(nodes.Ledger), steps);
        Assert.DoesNotContain(StepLedger.Read(nodes.Ledger), e => e.Workers.Any(w => w.StartsWith("stranger")));
        var left = started.Where(p => !p.WaitForExit(TimeSpan.FromSeconds(30))).Select(p => p.Id).ToList();
        Assert.True(left.Count == 0, $"processes still running after the run: {string.Join(", ", left)}");
    }

    /// <summary>Reads everything a process prints while it runs (a full pipe would block it), for after its exit.</summary>
    private static Task<string> Collect(Process process)
    {
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        return Task.WhenAll(stdout, stderr).ContinueWith(_ => stdout.Result + stderr.Result);
    }
}
