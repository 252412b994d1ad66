using Akka.Actor;
using VaeCluster.Protocol;

namespace VaeCluster.Coordinator.Training;

/// <summary>
/// Bookkeeping for the step being computed: which worker holds which shard, which results are in, and which
/// shards await a new owner after a deadline. The first result for a shard wins; later ones are duplicates.
/// </summary>
public sealed class StepInFlight(long step, int epoch, int stepInEpoch, IReadOnlyList<ComputeShard> shards)
{
    private readonly ShardGradient?[] results = new ShardGradient?[shards.Count];
    private readonly IActorRef?[] owners = new IActorRef?[shards.Count];
    private readonly long[] sentAt = new long[shards.Count], answeredAt = new long[shards.Count];
    private readonly Queue<int> orphans = new();
    private readonly SortedSet<int> reassigned = [];

    public long Step { get; } = step;
    public int Epoch { get; } = epoch;
    public int StepInEpoch { get; } = stepInEpoch;
    public IReadOnlyList<ComputeShard> Shards { get; } = shards;
    public bool IsComplete => results.All(r => r is not null);
    public IReadOnlyList<int> ReassignedShards => reassigned.ToList();
    public bool HasOrphans => orphans.Count > 0;
    public TimeSpan Age => started.Elapsed;
    private readonly System.Diagnostics.Stopwatch started = System.Diagnostics.Stopwatch.StartNew();

    /// <summary>The shards still unanswered, with their owners (null: waiting for a free worker).</summary>
    public IEnumerable<(int Shard, IActorRef? Owner)> Pending =>
        Enumerable.Range(0, results.Length).Where(i => !IsDone(i)).Select(i => (i, owners[i]));

    public void Assign(int shardIndex, IActorRef worker)
    {
        owners[shardIndex] = worker;
        sentAt[shardIndex] = System.Diagnostics.Stopwatch.GetTimestamp();
    }

    /// <summary>From the shard's (last) sending to its result, in ms.</summary>
    public double RoundTripMs(int shardIndex) => Ms(answeredAt[shardIndex] - sentAt[shardIndex]);

    /// <summary>From the shard's result to <paramref name="now"/> (the step applied): how long its node waited on the others, in ms.</summary>
    public double WaitedMs(int shardIndex, long now) => Ms(now - answeredAt[shardIndex]);

    private static double Ms(long ticks) => ticks * 1000.0 / System.Diagnostics.Stopwatch.Frequency;

    public IActorRef? OwnerOf(int shardIndex) => owners[shardIndex];

    public bool IsDone(int shardIndex) => results[shardIndex] is not null;

    /// <summary>Records a result; false if it is stale, unknown or a duplicate (the caller disposes it).</summary>
    public bool TryRecord(ShardGradient result)
    {
        if (result.Step != Step || result.ShardIndex < 0 || result.ShardIndex >= results.Length) return false;
        if (results[result.ShardIndex] is not null) return false;
        if (result.SampleCount != Shards[result.ShardIndex].SampleIndices.Length) return false;
        results[result.ShardIndex] = result;
        answeredAt[result.ShardIndex] = System.Diagnostics.Stopwatch.GetTimestamp();
        return true;
    }

    /// <summary>The shard's owner missed its deadline (or left): the shard waits for the next free worker.</summary>
    public void Orphan(int shardIndex)
    {
        owners[shardIndex] = null;
        reassigned.Add(shardIndex);
        if (!orphans.Contains(shardIndex)) orphans.Enqueue(shardIndex);
    }

    /// <summary>A shard with no owner yet (more shards than free workers): the next free worker takes it.</summary>
    public void Queue(int shardIndex)
    {
        if (!orphans.Contains(shardIndex)) orphans.Enqueue(shardIndex);
    }

    public int? TakeOrphan()
    {
        while (orphans.Count > 0)
        {
            int shard = orphans.Dequeue();
            if (!IsDone(shard)) return shard;
        }
        return null;
    }

    /// <summary>Shards not yet answered that this worker holds (when it leaves).</summary>
    public IEnumerable<int> PendingShardsOf(IActorRef worker) =>
        Enumerable.Range(0, owners.Length).Where(i => !IsDone(i) && Equals(owners[i], worker));

    /// <summary>The results in so far, in shard order (for a step abandoned before it was complete).</summary>
    public IEnumerable<ShardGradient> Completed => results.Where(r => r is not null).Select(r => r!);

    /// <summary>The results in shard order; only valid once complete.</summary>
    public IReadOnlyList<ShardGradient> Results => results.Select(r => r!).ToList();

    /// <summary>Releases results of a step that will not be applied (training stopped mid-step).</summary>
    public void DiscardResults()
    {
        foreach (var r in results) r?.Gradient.Dispose();
    }
}
