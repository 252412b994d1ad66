using System.Buffers.Binary;
using System.IO.Compression;

namespace VaeCluster.Data;

/// <summary>
/// Reads and writes IDX files, the big-endian format MNIST ships in: two zero bytes, an element-type byte,
/// a dimension-count byte, one uint32 per dimension, then the elements. A name ending in ".gz" is
/// (de)compressed on the fly, because that is how MNIST is downloaded.
/// </summary>
/// <remarks>
/// Every check raises a <see cref="DataError"/> phrased for the user, since a bad download is the most
/// likely cause and the fix (fetch again, point --data elsewhere) is theirs to make.
/// </remarks>
public static class IdxFile
{
    public const int ImageSide = 28;
    public const int ImagePixels = ImageSide * ImageSide;
    public const int DigitClasses = 10;

    /// <summary>Reads an [n, 28, 28] unsigned-byte file of images.</summary>
    public static IdxArray ReadImages(string path) => Read(path, IdxKind.Images);

    /// <summary>Reads an [n] unsigned-byte file of labels, each a digit 0..9.</summary>
    public static IdxArray ReadLabels(string path)
    {
        var labels = Read(path, IdxKind.Labels);
        // A label of 10 or more would only surface later as an index error deep inside training or evaluation.
        int bad = Array.FindIndex(labels.Data, l => l >= DigitClasses);
        if (bad >= 0)
            throw new DataError(path, $"label {labels.Data[bad]} at index {bad} is out of range: MNIST labels are digits 0-9");
        return labels;
    }

    /// <summary>Writes <paramref name="count"/> 28x28 images, stored row-major in <paramref name="pixels"/>.</summary>
    public static void WriteImages(string path, byte[] pixels, int count)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        // Refuse to write what ReadImages would refuse to read.
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        if (pixels.Length != (long)count * ImagePixels)
            throw new ArgumentException(
                $"{count} images of {ImageSide}x{ImageSide} need {(long)count * ImagePixels} pixels, got {pixels.Length}", nameof(pixels));
        Write(path, [count, ImageSide, ImageSide], pixels);
    }

    /// <summary>Writes one label (a digit 0..9) per image.</summary>
    public static void WriteLabels(string path, byte[] labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Length == 0)
            throw new ArgumentException("at least one label is needed", nameof(labels));
        int bad = Array.FindIndex(labels, l => l >= DigitClasses);
        if (bad >= 0)
            throw new ArgumentException($"label {labels[bad]} at index {bad} is not a digit 0-9", nameof(labels));
        Write(path, [labels.Length], labels);
    }

    private static bool IsGzip(string path) => path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);

    private static IdxArray Read(string path, IdxKind kind)
    {
        if (Directory.Exists(path))
            throw new DataError(path, $"is a directory, expected an IDX file of {kind.Noun}");
        if (!File.Exists(path))
            throw new DataError(path, $"file not found (expected an IDX file of {kind.Noun})");
        try
        {
            bool compressed = IsGzip(path);
            using Stream stream = compressed ? Decompress(path) : File.OpenRead(path);
            return Parse(path, stream, kind, compressed);
        }
        catch (InvalidDataException e)
        {
            throw new DataError(path, $"not a valid gzip file ({e.Message}); download it again or use the uncompressed file", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataError(path, $"cannot read: {e.Message}", e);
        }
    }

    /// <summary>
    /// A gzip stream has no length, and the length check is what tells "truncated" from "trailing bytes",
    /// so the whole file is inflated first. MNIST's largest file is 47 MB, so memory is not a concern.
    /// </summary>
    private static MemoryStream Decompress(string path)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        var inflated = new MemoryStream();
        gzip.CopyTo(inflated);
        inflated.Position = 0;
        return inflated;
    }

    private static IdxArray Parse(string path, Stream stream, IdxKind kind, bool compressed)
    {
        long length = stream.Length;
        string found = compressed ? $"{length} bytes after decompressing" : $"{length} bytes";
        if (length == 0)
            throw new DataError(path, compressed
                ? "empty file: decompresses to 0 bytes, not an IDX file"
                : "empty file (0 bytes): not an IDX file; download it again");

        Span<byte> head = stackalloc byte[4];
        if (length < head.Length)
            throw new DataError(path, $"truncated: found {found}, too short for the 4-byte IDX header");
        stream.ReadExactly(head);

        if (head[0] != 0 || head[1] != 0)
            throw new DataError(path,
                $"wrong magic number 0x{BinaryPrimitives.ReadUInt32BigEndian(head):X8}: not an IDX file (expected 0x{kind.Magic:X8} for {kind.Noun})");
        if (head[2] != IdxKind.UnsignedByte)
            throw new DataError(path,
                $"unsupported element type 0x{head[2]:X2} ({ElementTypeName(head[2])}): MNIST {kind.Noun} must be 0x08 (unsigned byte)");
        if (head[3] != kind.Rank)
            throw new DataError(path,
                $"wrong number of dimensions: found {head[3]}, expected {kind.Rank} for {kind.Noun} ({ExpectedShape(kind)})");
        if (length < kind.HeaderBytes)
            throw new DataError(path,
                $"truncated: a header with {kind.Rank} dimensions needs {kind.HeaderBytes} bytes, found {found}");

        var dims = new long[kind.Rank];
        Span<byte> dim = stackalloc byte[4];
        for (int i = 0; i < dims.Length; i++)
        {
            stream.ReadExactly(dim);
            dims[i] = BinaryPrimitives.ReadUInt32BigEndian(dim);
        }

        if (dims[0] == 0)
            throw new DataError(path, $"no {kind.Noun}: the header declares a count of 0");
        if (kind.Rank == 3 && (dims[1] != ImageSide || dims[2] != ImageSide))
            throw new DataError(path,
                $"wrong image size {dims[1]}x{dims[2]}: MNIST images are {ImageSide}x{ImageSide}");

        // After the size check every dimension but the count is 28, so this product cannot overflow a long.
        long dataBytes = dims.Aggregate(1L, (product, d) => product * d);
        long expected = kind.HeaderBytes + dataBytes;
        if (length < expected)
            throw new DataError(path, $"truncated: expected {expected} bytes ({kind.Describe(dims)}), found {found}");
        if (length > expected)
            throw new DataError(path,
                $"trailing bytes: expected {expected} bytes ({kind.Describe(dims)}), found {found}; the file is corrupt or not MNIST");
        if (dataBytes > Array.MaxLength)
            throw new DataError(path, $"too large: {kind.Describe(dims)} is more than one array can hold");

        var data = new byte[dataBytes];
        stream.ReadExactly(data);
        return new IdxArray(dims.Select(d => (int)d).ToArray(), data);
    }

    // Cleanup must not mask the write error the user needs to see.
    private static void TryDelete(string temp)
    {
        try { File.Delete(temp); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static string ExpectedShape(IdxKind kind) =>
        kind.Rank == 3 ? $"[count, {ImageSide}, {ImageSide}]" : "[count]";

    private static string ElementTypeName(byte type) => type switch
    {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "int16",
        0x0C => "int32",
        0x0D => "float32",
        0x0E => "float64",
        _ => "not an IDX type",
    };

    /// <summary>
    /// Writes beside the target and renames, so a reader (or a crash mid-write) never sees half a file
    /// under the real name.
    /// </summary>
    private static void Write(string path, int[] dims, byte[] data)
    {
        string full = Path.GetFullPath(path);
        string temp = $"{full}.{Guid.NewGuid():N}.tmp";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            using (var file = File.Create(temp))
            using (Stream target = IsGzip(path) ? new GZipStream(file, CompressionLevel.Optimal) : file)
            {
                Span<byte> head = stackalloc byte[4 + 4 * dims.Length];
                head[2] = IdxKind.UnsignedByte;
                head[3] = (byte)dims.Length;
                for (int i = 0; i < dims.Length; i++)
                    BinaryPrimitives.WriteUInt32BigEndian(head[(4 + 4 * i)..], (uint)dims[i]);
                target.Write(head);
                target.Write(data);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new DataError(path, $"cannot write: {e.Message}", e);
        }
    }
}
