using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using TorchSharp;
using static TorchSharp.torch;

namespace VaeCluster.Checkpoints;

/// <summary>
/// The HuggingFace safetensors format (https://github.com/huggingface/safetensors), F32 only:
/// [u64 little-endian header length N][N bytes of UTF-8 JSON, space-padded to a multiple of 8][data section].
/// Files written here load unchanged with Python's <c>safetensors.torch.load_file</c>.
/// </summary>
public static partial class SafeTensorsFile
{
    // The reference implementation refuses headers above 100 MB; so do we, so that a corrupted length
    // field cannot make us allocate gigabytes.
    private const long MaxHeaderBytes = 100_000_000;

    /// <summary>Writes torch tensors (float32, CPU) atomically.</summary>
    public static void Write(
        string path,
        IReadOnlyList<(string Name, Tensor Tensor)> tensors,
        IReadOnlyDictionary<string, string> metadata)
    {
        var arrays = new List<(string Name, long[] Shape, float[] Data)>(tensors.Count);
        foreach (var (name, t) in tensors) arrays.Add((name, t.shape, ToFloats(name, t)));
        Write(path, arrays, metadata);
    }

    /// <summary>
    /// Writes tensors already copied out of torch, atomically: the file appears under <paramref name="path"/>
    /// complete or not at all. The data section is the tensors' bytes in list order, which lets a caller hash
    /// it (<see cref="DataSectionSha256"/>) into the metadata before the header is written.
    /// </summary>
    public static void Write(
        string path,
        IReadOnlyList<(string Name, long[] Shape, float[] Data)> tensors,
        IReadOnlyDictionary<string, string> metadata)
    {
        EnsureLittleEndianHost();
        var header = EncodeHeader(tensors, metadata);

        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var (_, _, data) in tensors) stream.Write(MemoryMarshal.AsBytes(data.AsSpan()));
        });
    }

    /// <summary>
    /// Lowercase hex SHA-256 of the data section that these tensors make when written, which is also the data
    /// section they came from when they were read: the data section is exactly the tensors' bytes in order.
    /// </summary>
    public static string DataSectionSha256(IReadOnlyList<(string Name, long[] Shape, float[] Data)> tensors)
    {
        EnsureLittleEndianHost();
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (_, _, data) in tensors) sha.AppendData(MemoryMarshal.AsBytes(data.AsSpan()));
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>Reads and validates a file; any defect throws <see cref="CheckpointError"/>.</summary>
    public static SafeTensorsContent Read(string path)
    {
        EnsureLittleEndianHost();
        byte[] file; // whole file at once: our files are a few MB, and one read keeps validation simple
        try
        {
            file = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointError(path, $"cannot read the file ({e.Message})", e);
        }

        if (file.Length < 8)
            throw new CheckpointError(path, $"too short for a safetensors file ({file.Length} bytes, the header length alone takes 8)");
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (headerLength > MaxHeaderBytes)
            throw new CheckpointError(path, $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit (file truncated or not safetensors?)");
        if (8 + (long)headerLength > file.Length)
            throw new CheckpointError(path, $"header length {headerLength} runs past the end of the file ({file.Length} bytes; truncated?)");

        var headerBytes = file.AsMemory(8, (int)headerLength);
        var data = file.AsMemory(8 + (int)headerLength);
        var (metadata, entries) = ParseHeader(path, headerBytes);
        ValidateLayout(path, entries, data.Length);

        var tensors = entries
            .OrderBy(e => e.Begin) // stable: keeps header order among empty tensors
            .Select(e => (e.Name, e.Shape, MemoryMarshal.Cast<byte, float>(data.Span[(int)e.Begin..(int)e.End]).ToArray()))
            .ToList();
        return new SafeTensorsContent(metadata, tensors);
    }

    internal static float[] ToFloats(string name, Tensor t)
    {
        if (t.dtype != ScalarType.Float32)
            throw new ArgumentException($"tensor '{name}' is {t.dtype}; only Float32 can be written");
        if (t.device_type != DeviceType.CPU)
            throw new ArgumentException($"tensor '{name}' is on {t.device}; move it to the CPU first");
        // data<float>() walks strides, so a non-contiguous view still comes out in row-major order.
        return t.data<float>().ToArray();
    }

    // The format is little-endian and we copy float memory as is; refuse rather than write a wrong file.
    private static void EnsureLittleEndianHost()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors I/O here assumes a little-endian host");
    }
}
