namespace VaeCluster.Training;

/// <summary>
/// How an epoch's order (a permutation of the training set, drawn from the run's random stream) is cut into
/// global batches.
/// </summary>
public static class EpochOrder
{
    public static int StepsPerEpoch(int count, int batchSize) => (count + batchSize - 1) / batchSize;

    /// <summary>The sample indices of one global batch (the last batch of an epoch may be smaller).</summary>
    public static ArraySegment<int> GlobalBatch(int[] permutation, int stepInEpoch, int batchSize)
    {
        int start = stepInEpoch * batchSize;
        return new ArraySegment<int>(permutation, start, Math.Min(batchSize, permutation.Length - start));
    }

    /// <summary>SplitMix64's finaliser: a cheap, well-mixed 64-bit hash, for deriving independent seeds.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
