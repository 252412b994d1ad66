using System.Diagnostics;
using System.Text;
using VaeCluster.Cluster;
using VaeCluster.Coordinator.Run;
using VaeCluster.Tests.EndToEnd;

namespace VaeCluster.Tests.Netlab;

/// <summary>
/// A coordinator and worker nodes on the machines of a lab, each started with the command a user types on a real
/// machine (dotnet vae.dll coordinator --host ADDRESS --public-host ADDRESS, vae worker --seed ADDRESS:4053 ...).
/// The run directory is on the shared file system; each worker's own log folder is per machine.
/// </summary>
public sealed class LabCluster(Netlab lab, string work)
{
    private readonly List<(string Name, LabNode Node)> started = [];
    private int coordinatorMachine;
    private LabNode? coordinator;

    public string Run { get; } = Path.Combine(work, "run");

    public string Ledger => Path.Combine(Run, "ledger.jsonl");

    public string Seed => $"{lab.Address(coordinatorMachine)}:{ClusterDefaults.CoordinatorPort}";

    /// <summary>Where a worker on this machine keeps its own log (--log-dir).</summary>
    public string LocalLogs(int machine) => Path.Combine(work, $"{lab.Hostname(machine)}-logs");

    public LabNode StartCoordinator(int machine, params string[] args)
    {
        coordinatorMachine = machine;
        string address = lab.Address(machine);
        var node = Start(machine, "coordinator", ["coordinator", "--host", address, "--public-host", address, "--run", Run, "--data", TestData.MnistDir, .. args]);
        // Workers started before the seed listens wait out Akka's 5 s gate before they try again.
        if (!WaitFor(() => node.Output.Contains("Coordinator node up") || node.HasExited, TimeSpan.FromSeconds(60)))
            throw new TimeoutException("the coordinator did not come up in 60 s:\n" + node.Output);
        return coordinator = node;
    }

    /// <param name="actors">worker actors on this node (--workers K; always given: a node's default is one per core)</param>
    public LabNode StartWorker(int machine, string name, int actors = 1)
    {
        string address = lab.Address(machine);
        return Start(machine, name, ["worker", "--seed", Seed, "--host", address, "--public-host", address, "--name", name,
            "--log-dir", LocalLogs(machine), "--data", TestData.MnistDir, "--workers", $"{actors}"]);
    }

    public IReadOnlyList<LedgerEntry> LedgerNow()
    {
        try { return StepLedger.Read(Ledger); }
        catch (IOException) { return []; }
    }

    /// <summary>Polls (5 times a second) until the condition holds; false when the deadline passes first.</summary>
    public static bool WaitFor(Func<bool> condition, TimeSpan deadline)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > deadline) return false;
            Thread.Sleep(200);
        }
        return true;
    }

    /// <summary>Waits until the ledger holds this many steps; false at the deadline or when the coordinator has exited.</summary>
    public bool WaitForSteps(int steps, TimeSpan deadline) =>
        WaitFor(() => LedgerNow().Count >= steps || coordinator?.HasExited == true, deadline) && LedgerNow().Count >= steps;

    /// <summary>What every node printed, for a test's output: the story of a failure.</summary>
    public string Transcript() => string.Join("\n", started.Select(s => $"===== {s.Name} (exit {(s.Node.HasExited ? s.Node.ExitCode : "none yet")})\n{s.Node.Output}"));

    private LabNode Start(int machine, string name, string[] args)
    {
        var node = new LabNode(lab.Start(machine, work, ["dotnet", CliProcess.Cli, .. args], new Dictionary<string, string> { ["VAE_MNIST_DIR"] = TestData.MnistDir }));
        started.Add(($"{name} on {lab.Hostname(machine)}", node));
        return node;
    }
}

/// <summary>A node process on a lab machine; its output is collected as it comes, so it never blocks on a full pipe.</summary>
public sealed class LabNode
{
    private readonly Process process;
    private readonly StringBuilder output = new();

    public LabNode(Process process)
    {
        this.process = process;
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Output { get { lock (output) return output.ToString(); } }

    public bool HasExited => process.HasExited;

    public int ExitCode => process.ExitCode;

    /// <summary>SIGKILL: the machine's process dies without a word, as when a machine loses power.</summary>
    public void Kill() => process.Kill();

    /// <summary>SIGTERM, as Ctrl-C or a service manager stops a node.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", $"{process.Id}"]);
        kill.WaitForExit();
    }

    /// <summary>True when the process ended within the deadline (its output then complete).</summary>
    public bool WaitForExit(TimeSpan deadline)
    {
        if (!process.WaitForExit(deadline)) return false;
        process.WaitForExit(); // the rest of the redirected output
        return true;
    }
}
