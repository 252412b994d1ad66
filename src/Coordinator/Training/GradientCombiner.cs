using VaeCluster.Protocol;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Training;

/// <summary>
/// Adds shard gradients into the gradient of the whole global batch. The loss is a sum over samples, so the sum
/// of shard gradients is exactly the full-batch gradient; adding in shard order keeps the result reproducible.
/// </summary>
public static class GradientCombiner
{
    /// <summary>Sums into the first shard's tensors (which the caller owns and disposes) and returns them.</summary>
    public static IReadOnlyList<Tensor> SumInShardOrder(IReadOnlyList<ShardGradient> shards)
    {
        var total = shards[0].Gradient.Tensors;
        using var _ = no_grad();
        Parallel.For(0, total.Count, i =>
        {
            for (int s = 1; s < shards.Count; s++) total[i].add_(shards[s].Gradient.Tensors[i]);
        });
        return total;
    }
}
