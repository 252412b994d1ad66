using System.Buffers.Binary;
using VaeCluster.Data;

namespace VaeCluster.Tests.Data;

/// <summary>A throwaway folder per test, so fixtures never collide when xunit runs classes in parallel.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("vae-data-test-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Hand-built IDX bytes, for the corrupt files the writers refuse to produce.</summary>
    public string WriteRaw(string name, byte type, uint[] dims, int dataBytes, byte fill = 0, byte magicHigh = 0)
    {
        var bytes = new byte[4 + 4 * dims.Length + dataBytes];
        bytes[0] = magicHigh;
        bytes[2] = type;
        bytes[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++)
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        bytes.AsSpan(4 + 4 * dims.Length).Fill(fill);
        string path = File(name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Images whose pixel k of image i is (i * 7 + k) mod 256, so any mix-up of rows or bytes shows.</summary>
    public static byte[] Pixels(int count) =>
        Enumerable.Range(0, count * IdxFile.ImagePixels)
            .Select(k => (byte)((k / IdxFile.ImagePixels) * 7 + k % IdxFile.ImagePixels))
            .ToArray();

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
