using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VaeCluster.Protocol;
using VaeCluster.Training;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Training;

/// <summary>
/// Adds shard gradients into the gradient of the whole global batch. The loss is a sum over samples, so the sum
/// of shard gradients is exactly the full-batch gradient; adding in shard order keeps the result reproducible.
/// </summary>
public static class GradientCombiner
{
    /// <summary>
    /// Sums into the first shard's tensors (which the caller owns and disposes) and returns them, with whether the
    /// sum is all finite (checked in the same pass while it is in cache).
    /// </summary>
    public static (IReadOnlyList<Tensor> Sum, bool Finite) SumInShardOrder(IReadOnlyList<ShardGradient> shards)
    {
        var total = shards[0].Gradient.Tensors;
        if (shards.Count == 1) return (total, FiniteCheck.AllFinite(total));
        int bad = 0;
        TensorChunks.ForEach(total, (t, start, length) =>
        {
            var sum = TensorChunks.Floats(total[t], start, length);
            for (int s = 1; s < shards.Count; s++)
                Add(sum, TensorChunks.Floats(shards[s].Gradient.Tensors[t], start, length));
            if (!FiniteCheck.AllFinite(sum)) Volatile.Write(ref bad, 1);
        });
        return (total, bad == 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Add(Span<float> sum, ReadOnlySpan<float> part)
    {
        var sumVectors = MemoryMarshal.Cast<float, Vector<float>>(sum);
        var partVectors = MemoryMarshal.Cast<float, Vector<float>>(part);
        for (int k = 0; k < sumVectors.Length; k++) sumVectors[k] += partVectors[k];
        for (int k = sumVectors.Length * Vector<float>.Count; k < sum.Length; k++) sum[k] += part[k];
    }
}
