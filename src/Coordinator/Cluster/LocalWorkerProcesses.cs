using System.Diagnostics;
using Serilog;

namespace VaeCluster.Coordinator.Cluster;

/// <summary>
/// The worker processes of `./vae train --cluster`: this same CLI started as `vae worker` on loopback. Each one
/// watches its stdin, which this process holds open, so a worker exits by itself when this process dies in any
/// way, even killed; and on the way out this process waits for them and kills any that linger: no orphans.
/// </summary>
public sealed class LocalWorkerProcesses : IDisposable
{
    private readonly List<(string Id, Process Process)> workers = new();
    private readonly ILogger log;

    private LocalWorkerProcesses(ILogger log) => this.log = log;

    public static LocalWorkerProcesses Start(int count, string seed, string dataDir, string logDir, string? secret, ILogger log)
    {
        var started = new LocalWorkerProcesses(log);
        try
        {
            // One core each when they fit: the coordinator mostly waits while the workers compute.
            bool pin = count <= Environment.ProcessorCount;
            for (int i = 1; i <= count; i++) started.StartOne($"worker-{i}", seed, dataDir, logDir, secret, pin ? i - 1 : null);
        }
        catch
        {
            started.Dispose();
            throw;
        }
        return started;
    }

    private void StartOne(string id, string seed, string dataDir, string logDir, string? secret, int? core)
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
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start worker process {id}");
        workers.Add((id, process));
        log.Debug("Started worker process {Worker} (pid {Pid})", id, process.Id);
    }

    public int Count => workers.Count;

    /// <summary>
    /// Waits for the workers to exit (they do once told Bye). Those still there after a third of the grace are told
    /// to stop by closing their stdin (no Bye reached them: the coordinator's node was gone); those still there at
    /// the deadline are killed.
    /// </summary>
    public async Task StopAsync(TimeSpan grace)
    {
        using var deadline = new CancellationTokenSource(grace);
        using var nudge = new CancellationTokenSource(grace / 3);
        try { await Task.WhenAll(workers.Select(w => w.Process.WaitForExitAsync(nudge.Token))); }
        catch (OperationCanceledException)
        {
            foreach (var (_, process) in workers.Where(w => !w.Process.HasExited))
                try { process.StandardInput.Close(); } catch (IOException) { /* it is going away anyway */ }
        }
        foreach (var (id, process) in workers)
        {
            try
            {
                await process.WaitForExitAsync(deadline.Token);
                if (process.ExitCode != 0) log.Warning("Worker process {Worker} exited with code {ExitCode}", id, process.ExitCode);
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
        foreach (var (_, process) in workers)
        {
            try { if (!process.HasExited) process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { /* already gone */ }
            process.Dispose();
        }
    }
}
