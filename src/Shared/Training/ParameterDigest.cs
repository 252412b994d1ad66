using System.Security.Cryptography;
using static TorchSharp.torch;

namespace VaeCluster.Training;

/// <summary>
/// SHA-256 of parameter values, in order: two runs ended with bit-for-bit the same parameters exactly when their
/// digests match (what --deterministic promises; the final log line of every run carries it).
/// </summary>
public static class ParameterDigest
{
    public static string Sha256(IEnumerable<Tensor> tensors)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var tensor in tensors)
        {
            using var contiguous = tensor.contiguous();
            hash.AppendData(TensorChunks.Floats(contiguous, 0, checked((int)contiguous.numel())).ToArray().AsSpan().AsBytes());
        }
        return Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
    }

    private static ReadOnlySpan<byte> AsBytes(this Span<float> floats) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(floats);
}
