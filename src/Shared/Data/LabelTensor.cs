using static TorchSharp.torch;

namespace VaeCluster.Data;

/// <summary>Labels as the int64 tensor that indexing needs; MnistSplit keeps them as bytes.</summary>
public static class LabelTensor
{
    public static Tensor Of(byte[] labels, long start, long count) =>
        tensor(labels.AsSpan((int)start, (int)count).ToArray().Select(b => (long)b).ToArray());

    /// <summary>The labels of the given rows, in the order given.</summary>
    public static Tensor At(byte[] labels, IEnumerable<int> rows) => tensor(rows.Select(i => (long)labels[i]).ToArray());
}
