using System.Diagnostics;
using Serilog;

namespace VaeCluster.Coordinator.Cluster;

/// <summary>The worker processes ./vae train --cluster starts: how many, and how often each may be started again.</summary>
/// <param name="Needed">Worker processes the run needs to go on once it trains (--min-workers: one worker actor each);
/// before its first step it waits for all of them.</param>
public sealed record LocalWorkers(int Count, int MaxRestarts, int Needed);

/// <summary>
/// The worker processes of `./vae train --cluster`: this same CLI started as `vae worker` on loopback. One that dies
/// is started again (LocalWorkerProcess). Each one watches its stdin, which this process holds open, so a worker exits
/// by itself when this process dies in any way, even killed; and on the way out this process waits for them and
/// kills any that linger: no orphans.
/// </summary>
public sealed class LocalWorkerProcesses : IDisposable
{
    public const int DefaultMaxRestarts = 3;

    private readonly List<LocalWorkerProcess> workers = new();
    private readonly LocalWorkers plan;
    private readonly CancellationTokenSource stopping;
    private readonly ILogger log;
    private readonly List<string> gaveUp = new();
    private readonly TaskCompletionSource<string> tooFew = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool training;
    /// <summary>The processes running when the run began to stop: their exits are the stop's (earlier ones were reported).</summary>
    private List<(string Id, Process Process)>? runningAtStop;

    private LocalWorkerProcesses(LocalWorkers plan, ILogger log, CancellationToken cancel)
    {
        this.plan = plan;
        this.log = log;
        stopping = CancellationTokenSource.CreateLinkedTokenSource(cancel);
    }

    /// <param name="cancel">The run's stop (SIGINT, SIGTERM): workers that exit from then on are not restarted.</param>
    public static LocalWorkerProcesses Start(LocalWorkers plan, string seed, string dataDir, string logDir, string? secret, ILogger log, CancellationToken cancel)
    {
        var started = new LocalWorkerProcesses(plan, log, cancel);
        try
        {
            // One core each when they fit: the coordinator mostly waits while the workers compute.
            bool pin = plan.Count <= Environment.ProcessorCount;
            for (int i = 1; i <= plan.Count; i++)
            {
                var command = WorkerCommand($"worker-{i}", seed, dataDir, logDir, secret, pin ? i - 1 : null);
                started.workers.Add(new LocalWorkerProcess($"worker-{i}", () => StartProcess(command), plan.MaxRestarts, log, started.stopping.Token));
            }
        }
        catch
        {
            started.Dispose();
            throw;
        }
        foreach (var worker in started.workers)
            worker.GaveUp.ContinueWith(gave => { if (gave.Result) started.OnGaveUp(worker.Id); }, TaskContinuationOptions.OnlyOnRanToCompletion);
        return started;
    }

    /// <summary>
    /// Ends, with the reason, once fewer workers than the run needs can ever come back: the run's own secret and
    /// loopback keep any other worker out, so it could only wait for ever. Never ends while the run can go on.
    /// </summary>
    public Task<string> TooFewLeft => tooFew.Task;

    /// <summary>The run has applied a step: from now on it needs only plan.Needed workers, not all of them.</summary>
    public void TrainingStarted() => training = true;

    private void OnGaveUp(string id)
    {
        lock (gaveUp)
        {
            gaveUp.Add(id);
            // A run waits for every worker before its first step (CoordinatorActor), and for --min-workers after it.
            var needs = training ? $"the run needs {plan.Needed} (--min-workers)" : $"the run needs all {plan.Count} to start";
            if (plan.Count - gaveUp.Count < (training ? plan.Needed : plan.Count))
                tooFew.TrySetResult($"worker process{(gaveUp.Count == 1 ? "" : "es")} {string.Join(", ", gaveUp)} died more than --max-restarts {plan.MaxRestarts} times, and {needs}");
        }
    }

    private static ProcessStartInfo WorkerCommand(string id, string seed, string dataDir, string logDir, string? secret, int? core)
    {
        string host = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        // Through the environment, not the command line, which any user can read with ps.
        if (secret is not null) start.Environment["VAE_CLUSTER__SECRET"] = secret;
        // The same build, the same environment (tcmalloc included): `dotnet vae.dll worker ...` from a build, or the
        // published folder's own executable (`vae worker ...`), which takes no assembly path.
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") start.ArgumentList.Add(typeof(LocalWorkerProcesses).Assembly.Location);
        foreach (var arg in new[]
                 {
                     "worker", "--seed", seed, "--name", id, "--workers", "1", "--data", dataDir, "--log-dir", logDir,
                     "--console-level", "warning", "--exit-with-parent",
                 })
            start.ArgumentList.Add(arg);
        if (core is int c) foreach (var arg in new[] { "--cpu", $"{c}" }) start.ArgumentList.Add(arg);
        return start;
    }

    private static Process StartProcess(ProcessStartInfo command)
    {
        var process = Process.Start(command) ?? throw new InvalidOperationException($"could not start {command.FileName}");
        process.EnableRaisingEvents = true; // its exit is awaited, not polled
        return process;
    }

    public int Count => workers.Count;

    /// <summary>The run is finishing or stopping: workers that exit from now on do so on purpose, and stay down.</summary>
    public void StopRestarting()
    {
        lock (workers)
        {
            if (runningAtStop is not null) return;
            stopping.Cancel();
            runningAtStop = workers.Select(w => (w.Id, w.Current)).Where(w => !w.Current.HasExited).ToList();
        }
    }

    /// <summary>
    /// Waits for the workers to exit (they do once told Bye). Those still there after a third of the grace are told
    /// to stop by closing their stdin (no Bye reached them: the coordinator's node was gone); those still there at
    /// the deadline are killed.
    /// </summary>
    public async Task StopAsync(TimeSpan grace)
    {
        StopRestarting();
        var processes = runningAtStop!;
        using var deadline = new CancellationTokenSource(grace);
        using var nudge = new CancellationTokenSource(grace / 3);
        try { await Task.WhenAll(processes.Select(w => w.Process.WaitForExitAsync(nudge.Token))); }
        catch (OperationCanceledException)
        {
            foreach (var (_, process) in processes.Where(w => !w.Process.HasExited))
                try { process.StandardInput.Close(); } catch (IOException) { /* it is going away anyway */ }
        }
        foreach (var (id, process) in processes)
        {
            try
            {
                await process.WaitForExitAsync(deadline.Token);
                if (process.ExitCode != 0)
                    log.Warning("Worker process {Worker} exited with {Exit}", id, LocalWorkerProcess.ExitOf(process.ExitCode));
            }
            catch (OperationCanceledException)
            {
                log.Warning("Worker process {Worker} did not exit in {Grace}; killing it", id, grace);
                process.Kill(entireProcessTree: true);
            }
        }
    }

    public void Dispose()
    {
        StopRestarting();
        foreach (var worker in workers) worker.Dispose();
        stopping.Dispose();
    }
}
