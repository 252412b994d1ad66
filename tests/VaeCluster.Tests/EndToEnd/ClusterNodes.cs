using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using VaeCluster.Coordinator.Run;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>A coordinator process and worker processes started by a test, on loopback, with free ports.</summary>
public sealed class ClusterNodes : IDisposable
{
    private readonly string work;
    private readonly List<Process> all = new();

    public ClusterNodes(string work, string run)
    {
        this.work = work;
        Run = run;
        Port = FreePort();
        DataPort = FreePort();
    }

    public string Run { get; }
    public int Port { get; }
    public int DataPort { get; }
    public string Ledger => Path.Combine(Run, "ledger.jsonl");

    public Process StartCoordinator(params string[] args) =>
        Track(CliProcess.Start(work, ["coordinator", "--run", Run, "--port", $"{Port}", "--data-port", $"{DataPort}", .. args]));

    public Process ResumeCoordinator(params string[] args) =>
        Track(CliProcess.Start(work, ["coordinator", "--resume", Run, "--port", $"{Port}", "--data-port", $"{DataPort}", .. args]));

    /// <summary>A worker node; with one worker actor unless <paramref name="args"/> say --workers.</summary>
    public Process StartWorker(string name, params string[] args) =>
        Track(CliProcess.Start(work, ["worker", "--seed", $"127.0.0.1:{Port}", "--name", name,
            "--log-dir", Path.Combine(Run, "logs"), "--data", TestData.MnistDir, .. args.Contains("--workers") ? args : ["--workers", "1", .. args]]));

    /// <summary>Waits until the ledger holds at least this many steps.</summary>
    public bool WaitForSteps(int steps, TimeSpan timeout) =>
        SpinWait.SpinUntil(() => LedgerCount() >= steps, timeout);

    public int LedgerCount()
    {
        try { return StepLedger.Read(Ledger).Count; }
        catch (IOException) { return 0; }
        catch (System.Text.Json.JsonException) { return 0; } // a line being written
    }

    /// <summary>Waits for the process to exit and returns everything it printed.</summary>
    public static string Finish(Process process, TimeSpan timeout)
    {
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"process did not finish in {timeout}:\n{stdout.Result}{stderr.Result}");
        }
        return stdout.Result + stderr.Result;
    }

    /// <summary>Reads a process's output in the background, so a chatty process never blocks on a full pipe.</summary>
    public static void Drain(Process process)
    {
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
    }

    /// <summary>Reads everything a process prints while it runs (a full pipe would block it), for after its exit.</summary>
    public static Task<string> Collect(Process process)
    {
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        return Task.WhenAll(stdout, stderr).ContinueWith(_ => stdout.Result + stderr.Result);
    }

    /// <summary>The digest of the final parameters, from a finished coordinator's output.</summary>
    public static string ParametersDigest(string output) =>
        Regex.Match(output, "parameters sha256 ([0-9a-f]{64})") is { Success: true } m
            ? m.Groups[1].Value
            : throw new InvalidOperationException("no parameter digest in:\n" + output);

    private Process Track(Process p)
    {
        all.Add(p);
        return p;
    }

    public void Dispose()
    {
        foreach (var p in all)
        {
            try { if (!p.HasExited) p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            p.Dispose();
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
