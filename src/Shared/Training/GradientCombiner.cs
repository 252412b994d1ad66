using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VaeCluster.Protocol;
using VaeCluster.Training;
using static TorchSharp.torch;

namespace VaeCluster.Training;

/// <summary>
/// Adds shard gradients into the gradient of the whole global batch. The loss is a sum over samples, so the sum
/// of shard gradients is exactly the full-batch gradient; adding in shard order keeps the result reproducible.
/// The coordinator adds its participants' gradients this way, and a worker node its actors'.
/// </summary>
public static class GradientCombiner
{
    /// <summary>
    /// Sums into the first shard's tensors (which the caller owns and disposes) and returns them, with whether the
    /// sum is all finite (checked in the same pass while it is in cache).
    /// </summary>
    public static (IReadOnlyList<Tensor> Sum, bool Finite) SumInShardOrder(IReadOnlyList<ShardGradient> shards) =>
        shards is [{ Gradient: { KnownFinite: true } only }]
            ? (only.Tensors, true) // one shard, checked where it was summed: no second pass over 4 MB a step
            : SumInOrder(shards.Select(s => s.Gradient.Tensors).ToList());

    /// <summary>The same over bare gradient lists: sums into the first list's tensors and returns them.</summary>
    public static (IReadOnlyList<Tensor> Sum, bool Finite) SumInOrder(IReadOnlyList<IReadOnlyList<Tensor>> parts)
    {
        var total = parts[0];
        if (parts.Count == 1) return (total, FiniteCheck.AllFinite(total));
        int bad = 0;
        TensorChunks.ForEach(total, (t, start, length) =>
        {
            var sum = TensorChunks.Floats(total[t], start, length);
            for (int s = 1; s < parts.Count; s++)
                Add(sum, TensorChunks.Floats(parts[s][t], start, length));
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
