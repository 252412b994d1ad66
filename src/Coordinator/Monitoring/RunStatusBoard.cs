using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace VaeCluster.Coordinator.Monitoring;

/// <summary>
/// Where the watcher actor posts the run's current <see cref="RunStatus"/>, and where web requests, on their own
/// threads, read it. The actor also beats here on every tick, which is what tells a liveness probe that the actor
/// system is still processing messages.
/// </summary>
public sealed class RunStatusBoard(RunStatus initial)
{
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private volatile RunStatus current = initial;
    private TaskCompletionSource changed = NewSignal();
    private long lastBeatTicks = -1;

    public RunStatus Current => current;

    /// <summary>Called by the watcher actor only.</summary>
    public void Publish(RunStatus status)
    {
        current = status;
        Beat();
        Interlocked.Exchange(ref changed, NewSignal()).TrySetResult();
    }

    /// <summary>Called by the watcher actor on its timer: it is alive and answering.</summary>
    public void Beat() => Interlocked.Exchange(ref lastBeatTicks, clock.Elapsed.Ticks);

    /// <summary>Time since the watcher actor last beat; null before the actor system started.</summary>
    public TimeSpan? SinceLastBeat => Interlocked.Read(ref lastBeatTicks) is var t and >= 0 ? clock.Elapsed - TimeSpan.FromTicks(t) : null;

    /// <summary>The current status, then each new one, at most one per <paramref name="interval"/>, until cancelled.</summary>
    public async IAsyncEnumerable<RunStatus> Updates(TimeSpan interval, [EnumeratorCancellation] CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            var next = Volatile.Read(ref changed).Task;
            yield return current;
            try
            {
                await next.WaitAsync(cancel);
                await Task.Delay(interval, cancel);
            }
            catch (OperationCanceledException) { yield break; }
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
