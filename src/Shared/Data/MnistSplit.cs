using static TorchSharp.torch;

namespace VaeCluster.Data;

/// <summary>
/// One half of MNIST ready for the model: <paramref name="Images"/> is float32 [n, 784] with pixels scaled
/// to [0, 1] (what the Bernoulli reconstruction loss expects), and <paramref name="Labels"/> holds the digit
/// of each row, kept as bytes because only plots and evaluation read them. <paramref name="Sha256"/> is the
/// DataDigest of the files it came from (empty for a split made in memory): cluster nodes compare it.
/// </summary>
public sealed record MnistSplit(Tensor Images, byte[] Labels, string Sha256 = "")
{
    public int Count => Labels.Length;
}
