using VaeCluster.Protocol;

namespace VaeCluster.Training;

/// <summary>
/// Cuts a batch into contiguous shards: the coordinator cuts a global batch across its participants in proportion
/// to their worker actors, and a worker node cuts its shard across its own actors the same way.
/// </summary>
public static class ShardPlanner
{
    /// <summary>Shards of equal size (differing by at most one), at most one per sample.</summary>
    public static IReadOnlyList<ComputeShard> Cut(GlobalBatch batch, int shardCount, bool whole = false)
    {
        if (shardCount < 1) throw new ArgumentOutOfRangeException(nameof(shardCount));
        return Cut(batch, Enumerable.Repeat(1, shardCount).ToList(), whole);
    }

    /// <summary>
    /// One shard per weight, sized in proportion to it, each of at least one sample; when there are fewer samples
    /// than weights only the first weights get one. Equal weights give the equal cut.
    /// <paramref name="whole"/> marks shards that must be computed by one actor (deterministic runs).
    /// </summary>
    public static IReadOnlyList<ComputeShard> Cut(GlobalBatch batch, IReadOnlyList<int> weights, bool whole = false)
    {
        if (weights.Count < 1 || weights.Any(w => w < 1)) throw new ArgumentOutOfRangeException(nameof(weights));
        var sizes = Sizes(batch.Count, weights);
        var shards = new List<ComputeShard>(sizes.Length);
        int start = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            var indices = batch.SampleIndices.AsSpan(start, sizes[i]).ToArray();
            var noise = batch.Noise.AsSpan(start * batch.Latent, sizes[i] * batch.Latent).ToArray();
            shards.Add(new ComputeShard(batch.Step, i, indices, noise, whole));
            start += sizes[i];
        }
        return shards;
    }

    /// <summary>
    /// Sizes in proportion by largest remainder (ties to the earlier shard), so equal weights give sizes n/k with
    /// the first n%k one larger; then a shard left empty takes a sample from the largest.
    /// </summary>
    private static int[] Sizes(int count, IReadOnlyList<int> weights)
    {
        int shards = Math.Min(count, weights.Count);
        long total = weights.Take(shards).Sum(w => (long)w);
        var sizes = new int[shards];
        var remainders = new long[shards];
        for (int i = 0; i < shards; i++)
        {
            long share = (long)count * weights[i];
            sizes[i] = (int)(share / total);
            remainders[i] = share % total;
        }
        int left = count - sizes.Sum();
        foreach (int i in Enumerable.Range(0, shards).OrderByDescending(i => remainders[i]).ThenBy(i => i).Take(left)) sizes[i]++;
        for (int i = 0; i < shards; i++)
        {
            if (sizes[i] > 0) continue;
            int largest = Array.IndexOf(sizes, sizes.Max());
            sizes[largest]--;
            sizes[i]++;
        }
        return sizes;
    }
}

/// <summary>One step's samples and their reparameterisation noise ([Count x Latent], row-major).</summary>
public sealed record GlobalBatch(long Step, int[] SampleIndices, float[] Noise, int Latent)
{
    public int Count => SampleIndices.Length;

    /// <summary>A shard seen as a batch of its own, to be cut further across a node's actors.</summary>
    public static GlobalBatch Of(ComputeShard shard) =>
        new(shard.Step, shard.SampleIndices, shard.Noise, shard.Noise.Length / shard.SampleIndices.Length);
}
