namespace VaeCluster.Training;

/// <summary>
/// The order in which an epoch visits the training set: a permutation that depends only on (seed, epoch),
/// so a resumed run replays the same minibatches. Uses its own SplitMix64 generator so the order never
/// changes with the runtime's Random implementation.
/// </summary>
public static class EpochOrder
{
    public static int[] Permutation(long seed, int epoch, int count)
    {
        var order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i;
        ulong state = Mix((ulong)seed ^ Mix((ulong)epoch * 0x9E3779B97F4A7C15UL));
        for (int i = count - 1; i > 0; i--)
        {
            state = Mix(state + 0x9E3779B97F4A7C15UL);
            int j = (int)(state % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    public static int StepsPerEpoch(int count, int batchSize) => (count + batchSize - 1) / batchSize;

    /// <summary>The sample indices of one global batch (the last batch of an epoch may be smaller).</summary>
    public static ArraySegment<int> GlobalBatch(int[] permutation, int stepInEpoch, int batchSize)
    {
        int start = stepInEpoch * batchSize;
        return new ArraySegment<int>(permutation, start, Math.Min(batchSize, permutation.Length - start));
    }

    /// <summary>SplitMix64's finaliser: a cheap, well-mixed 64-bit hash.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
