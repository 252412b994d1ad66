using System.Diagnostics;
using Serilog;

namespace VaeCluster.Coordinator.Cluster;

/// <summary>
/// One worker of ./vae train --cluster: a `vae worker` process under a fixed name. When it dies while the run goes on,
/// it is started again under the same name after 1 s, 2 s, 4 s ... (at most <see cref="MaxBackOff"/>), until it has
/// died more than --max-restarts times; then it is left down. Its exit is awaited (WaitForExitAsync): watching holds
/// no thread, an actor's least of all.
/// </summary>
public sealed class LocalWorkerProcess : IDisposable
{
    private static readonly TimeSpan MaxBackOff = TimeSpan.FromSeconds(30);

    private readonly Func<Process> start;
    private readonly int maxRestarts;
    private readonly ILogger log;
    private readonly CancellationToken stopping;
    /// <summary>Guards <see cref="process"/>: a restart and the run's stop must not cross (no process started unseen).</summary>
    private readonly object gate = new();
    private Process process;
    private int deaths;

    /// <param name="stopping">Cancelled once the run is stopping or finishing: an exit is then no death, and nothing restarts.</param>
    public LocalWorkerProcess(string id, Func<Process> start, int maxRestarts, ILogger log, CancellationToken stopping)
    {
        Id = id;
        this.start = start;
        this.maxRestarts = maxRestarts;
        this.log = log;
        this.stopping = stopping;
        process = start();
        log.Debug("Started worker process {Worker} (pid {Pid})", id, process.Id);
        GaveUp = WatchAsync();
    }

    public string Id { get; }

    /// <summary>Ends when nothing will start this worker again: true once it died too often, false when the run stops.</summary>
    public Task<bool> GaveUp { get; }

    /// <summary>The process running now (or last).</summary>
    public Process Current { get { lock (gate) return process; } }

    private async Task<bool> WatchAsync()
    {
        while (true)
        {
            var current = Current;
            try { await current.WaitForExitAsync(stopping); }
            catch (OperationCanceledException) { return false; }
            if (stopping.IsCancellationRequested) return false; // the run is ending: its Bye or stop ended the worker
            string exit = ExitOf(current.ExitCode);
            if (++deaths > maxRestarts)
            {
                log.Error("Worker process {Worker} exited with {Exit} and has died {Deaths}; giving up on it (--max-restarts {MaxRestarts})",
                    Id, exit, deaths == 1 ? "once" : $"{deaths} times", maxRestarts);
                return true;
            }
            var delay = BackOff(deaths);
            log.Warning("Worker process {Worker} exited with {Exit}; restarting it in {Delay} s (restart {Restart} of {MaxRestarts})",
                Id, exit, delay.TotalSeconds, deaths, maxRestarts);
            try { await Task.Delay(delay, stopping); }
            catch (OperationCanceledException) { return false; }
            try
            {
                lock (gate)
                {
                    if (stopping.IsCancellationRequested) return false;
                    process = start();
                    current.Dispose();
                }
            }
            catch (Exception error) when (error is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                log.Error("Worker process {Worker} could not be started again ({Error}); giving up on it", Id, error.Message);
                return true;
            }
            log.Information("Restarted worker process {Worker} (pid {Pid})", Id, Current.Id);
        }
    }

    /// <summary>1 s before the first restart, doubling each time: a worker that dies at once does not spin.</summary>
    private static TimeSpan BackOff(int deaths) => TimeSpan.FromSeconds(Math.Min(Math.Pow(2, deaths - 1), MaxBackOff.TotalSeconds));

    /// <summary>"code 1", or "code 137 (SIGKILL)": .NET reports a process ended by signal N as exit code 128 + N.</summary>
    public static string ExitOf(int code) => code switch
    {
        130 => $"code {code} (interrupted)", // SIGINT, or the worker's own exit once told to stop: both mean stopped
        > 128 and < 160 => $"code {code} ({SignalName(code - 128)})",
        _ => $"code {code}",
    };

    private static string SignalName(int signal) => signal switch
    {
        1 => "SIGHUP",
        6 => "SIGABRT",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        15 => "SIGTERM",
        _ => $"signal {signal}",
    };

    public void Dispose()
    {
        var current = Current;
        try { if (!current.HasExited) current.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { /* already gone */ }
        current.Dispose();
    }
}
