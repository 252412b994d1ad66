using System.Diagnostics;
using System.Text;
using VaeCluster.Coordinator.Run;
using VaeCluster.Tests.EndToEnd;
using Xunit;

namespace VaeCluster.Tests.Cluster;

/// <summary>
/// Two live workers started with the same --name used to be admitted both, each evicting the other over and over.
/// The second must be refused in one line and exit, and the run must go on with the first.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class DuplicateWorkerNameTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
    private readonly string work = Directory.CreateTempSubdirectory("vae-duplicate-name-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public void A_second_live_worker_with_a_taken_name_exits_1_in_one_line_and_the_run_completes_without_it()
    {
        using var nodes = new ClusterNodes(work, Path.Combine(work, "run"));
        // Two workers wanted: the run waits, so the twin knocks while the first holds the name, whatever the timing.
        var coordinator = nodes.StartCoordinator("--workers", "2", "--epochs", "1", "--train-limit", "1280");
        var said = Collect(coordinator);
        var first = nodes.StartWorker("w1");
        ClusterNodes.Drain(first);
        Assert.True(SpinWait.SpinUntil(() => said.Contains("registered with 1 workers (1 workers in all)"), Patience), "the first w1 was never admitted");

        var twin = CliProcess.Start(work, ["worker", "--seed", $"127.0.0.1:{nodes.Port}", "--name", "w1", "--workers", "1",
            "--log-dir", Path.Combine(work, "twin-logs"), "--data", TestData.MnistDir]);
        string refused = ClusterNodes.Finish(twin, Patience);
        Assert.True(twin.ExitCode == 1, refused);
        var why = new System.Text.RegularExpressions.Regex(@"worker name w1 is taken by a live node at 127\.0\.0\.1:\d+; give each worker its own --name");
        Assert.True(refused.Split('\n').Count(why.IsMatch) == 1, refused);
        twin.Dispose();

        var second = nodes.StartWorker("w2");
        ClusterNodes.Drain(second);
        Assert.True(coordinator.WaitForExit(Patience), "the run did not finish:\n" + said);
        coordinator.WaitForExit(); // the output's last lines
        Assert.True(coordinator.ExitCode == 0, said.ToString());
        Assert.Contains("worker name w1 is taken", said.ToString()); // the coordinator says so too
        var ledger = StepLedger.Read(nodes.Ledger);
        FaultToleranceTests.AssertEveryStepOnce(ledger, steps: 10);
        Assert.All(ledger, e => Assert.Contains("w1", e.Workers)); // the first w1 was never evicted
        Assert.True(first.WaitForExit(TimeSpan.FromSeconds(30)) && first.ExitCode == 0, "the first w1 did not finish the run");
    }

    /// <summary>Everything a process prints, as it prints it.</summary>
    private static Output Collect(Process process)
    {
        var output = new Output();
        process.OutputDataReceived += (_, e) => output.Add(e.Data);
        process.ErrorDataReceived += (_, e) => output.Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return output;
    }

    private sealed class Output
    {
        private readonly StringBuilder text = new();

        public void Add(string? line) { lock (text) text.AppendLine(line); }

        public bool Contains(string part) { lock (text) return text.ToString().Contains(part); }

        public override string ToString() { lock (text) return text.ToString(); }
    }
}
