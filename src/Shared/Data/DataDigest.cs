using System.Buffers.Binary;
using System.Security.Cryptography;

namespace VaeCluster.Data;

/// <summary>
/// SHA-256 of a split's images and labels as read from their IDX files (dimensions and bytes, so raw and gzipped
/// copies agree), taken over every row, before any --train-limit: nodes compare it to prove they hold the same
/// data. About 30 ms for MNIST's 47 MB here (OpenSSL with the CPU's SHA instructions).
/// </summary>
public static class DataDigest
{
    public static string Of(IdxArray images, IdxArray labels)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var array in new[] { images, labels })
        {
            var dims = new byte[sizeof(int) * (array.Dims.Length + 1)];
            BinaryPrimitives.WriteInt32LittleEndian(dims, array.Dims.Length);
            for (int i = 0; i < array.Dims.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(dims.AsSpan(sizeof(int) * (i + 1)), array.Dims[i]);
            sha.AppendData(dims);
            sha.AppendData(array.Data);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
