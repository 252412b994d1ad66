using VaeCluster.Protocol;

namespace VaeCluster.Coordinator.Training;

/// <summary>Cuts a global batch into one contiguous shard per worker, sizes differing by at most one.</summary>
public static class ShardPlanner
{
    public static IReadOnlyList<ComputeShard> Cut(GlobalBatch batch, int shardCount)
    {
        if (shardCount < 1) throw new ArgumentOutOfRangeException(nameof(shardCount));
        shardCount = Math.Min(shardCount, batch.Count);
        var shards = new List<ComputeShard>(shardCount);
        int start = 0;
        for (int i = 0; i < shardCount; i++)
        {
            int size = batch.Count / shardCount + (i < batch.Count % shardCount ? 1 : 0);
            var indices = batch.SampleIndices.AsSpan(start, size).ToArray();
            var noise = batch.Noise.AsSpan(start * batch.Latent, size * batch.Latent).ToArray();
            shards.Add(new ComputeShard(batch.Step, i, indices, noise));
            start += size;
        }
        return shards;
    }
}

/// <summary>One step's samples and their reparameterisation noise ([Count x Latent], row-major).</summary>
public sealed record GlobalBatch(long Step, int[] SampleIndices, float[] Noise, int Latent)
{
    public int Count => SampleIndices.Length;
}
