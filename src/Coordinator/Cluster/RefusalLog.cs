using Serilog;

namespace VaeCluster.Coordinator.Cluster;

/// <summary>
/// Warns about refused data-plane connections at most once per interval for each kind of refusal, and says in
/// the next warning how many it kept quiet about: a stranger opening connections in a loop must not be able to
/// fill the coordinator's log (or its disk), yet the operator still learns that it happens and how often.
/// Safe to call from any thread.
/// </summary>
public sealed class RefusalLog(ILogger log, TimeSpan every, TimeProvider? clock = null)
{
    private readonly TimeProvider clock = clock ?? TimeProvider.System;
    private readonly Dictionary<string, (DateTimeOffset Warned, int Quiet)> kinds = new();

    /// <summary>Logs this refusal as a warning, unless one of the same kind was logged less than an interval ago.</summary>
    /// <param name="kind">What groups refusals under one limit (e.g. "deadline"); the message may vary within a kind.</param>
    public void Refused(string kind, string messageTemplate, params object?[] values)
    {
        int quiet;
        lock (kinds)
        {
            var now = clock.GetUtcNow();
            if (kinds.TryGetValue(kind, out var last) && now - last.Warned < every)
            {
                kinds[kind] = last with { Quiet = last.Quiet + 1 };
                return;
            }
            quiet = kinds.TryGetValue(kind, out last) ? last.Quiet : 0;
            kinds[kind] = (now, 0);
        }
        if (quiet == 0) log.Warning(messageTemplate, values);
        else log.Warning(messageTemplate + " ({Quiet} more refused like this since the last warning)", [.. values, quiet]);
    }

    /// <summary>Reports the refusals still untold, so none go unmentioned when the listener or gateway stops.</summary>
    public void Flush()
    {
        List<(string Kind, int Quiet)> untold;
        lock (kinds)
        {
            untold = kinds.Where(k => k.Value.Quiet > 0).Select(k => (k.Key, k.Value.Quiet)).ToList();
            foreach (var (kind, _) in untold) kinds[kind] = kinds[kind] with { Quiet = 0 };
        }
        foreach (var (kind, quiet) in untold)
            log.Warning("Data plane: {Quiet} more connections refused ({Kind:l}) since the last warning", quiet, kind);
    }
}
