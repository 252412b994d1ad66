using System.IO.MemoryMappedFiles;
using System.Security.Cryptography;
using static TorchSharp.torch;

namespace VaeCluster.DataPlane;

/// <summary>
/// A memory-mapped file in /dev/shm that holds one payload's worth of tensors. When a worker runs on the
/// coordinator's machine, parameters and gradients go through such regions (one copy in, one copy out) instead
/// of through the socket (a copy into the kernel and one out, plus TCP), and the frames carry no payload.
/// A cookie at the start of the file proves that both sides opened the same file, i.e. run on the same host.
/// </summary>
public sealed unsafe class SharedTensorRegion : IDisposable
{
    private const int CookieBytes = 16;

    private readonly MemoryMappedFile file;
    private readonly MemoryMappedViewAccessor view;
    private readonly byte* start;
    private readonly bool owner;

    private SharedTensorRegion(string path, long bytes, MemoryMappedFile file, bool owner)
    {
        Path = path;
        Bytes = bytes;
        this.file = file;
        this.owner = owner;
        view = file.CreateViewAccessor(0, CookieBytes + bytes);
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        start = pointer + view.PointerOffset;
    }

    public string Path { get; }
    public long Bytes { get; }

    /// <summary>The folder regions live in: RAM-backed where the system has one.</summary>
    public static string Folder => Directory.Exists("/dev/shm") ? "/dev/shm" : System.IO.Path.GetTempPath();

    /// <summary>
    /// Deletes regions left by coordinators that died without cleaning up (killed): their names carry the pid of
    /// the process that made them (vaecluster-PID.*), so those of processes still alive are left alone.
    /// </summary>
    public static void DeleteOrphans()
    {
        foreach (var path in Directory.EnumerateFiles(Folder, "vaecluster-*"))
        {
            var name = System.IO.Path.GetFileName(path)["vaecluster-".Length..];
            int end = name.IndexOfAny(['.', '-']);
            if (end > 0 && int.TryParse(name[..end], out int pid) && !Directory.Exists($"/proc/{pid}"))
                try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>A new random cookie; one per coordinator process, written into every region it creates.</summary>
    public static string NewCookie() => Convert.ToHexString(RandomNumberGenerator.GetBytes(CookieBytes));

    public static SharedTensorRegion Create(string name, long bytes, string cookie)
    {
        string path = System.IO.Path.Combine(Folder, name);
        using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite))
            stream.SetLength(CookieBytes + bytes);
        var region = new SharedTensorRegion(path, bytes, MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite), owner: true);
        Convert.FromHexString(cookie).CopyTo(new Span<byte>(region.start, CookieBytes));
        return region;
    }

    /// <summary>Opens a region another process created, or null when it is not there (another host) or not the one expected.</summary>
    public static SharedTensorRegion? TryOpen(string path, long bytes, string cookie)
    {
        try
        {
            if (new FileInfo(path).Length != CookieBytes + bytes) return null;
            var region = new SharedTensorRegion(path, bytes, MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite), owner: false);
            if (new ReadOnlySpan<byte>(region.start, CookieBytes).SequenceEqual(Convert.FromHexString(cookie))) return region;
            region.Dispose();
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// Tensors of this layout that live in the region itself (libtorch maps the file shared): a worker's model
    /// computes straight from the parameters the coordinator publishes, with no copy at all.
    /// </summary>
    public IReadOnlyList<Tensor> MapTensors(IReadOnlyList<TensorLayout> layout)
    {
        if (TensorLayout.PayloadBytes(layout) != Bytes) throw new WireError($"layout of {TensorLayout.PayloadBytes(layout)} bytes does not fit a shared region of {Bytes}");
        using var flat = from_file(Path, shared: true, size: (CookieBytes + Bytes) / sizeof(float), dtype: ScalarType.Float32);
        var tensors = new List<Tensor>(layout.Count);
        long offset = CookieBytes / sizeof(float);
        foreach (var t in layout)
        {
            tensors.Add(flat.narrow(0, offset, t.Elements).view(t.Shape));
            offset += t.Elements;
        }
        return tensors;
    }

    /// <summary>The region's memory as floats, from a float offset after the cookie (for writers that fill it in place).</summary>
    public Span<float> Floats(long floatOffset, int length)
    {
        if (floatOffset < 0 || (floatOffset + length) * sizeof(float) > Bytes) throw new ArgumentOutOfRangeException(nameof(floatOffset));
        return new Span<float>(start + CookieBytes + floatOffset * sizeof(float), length);
    }

    /// <summary>
    /// Copies the tensors into the region, back to back, into payload slot <paramref name="slot"/> (a region may
    /// hold several payloads of the tensors' size).
    /// </summary>
    public void Write(IReadOnlyList<Tensor> tensors, int slot = 0) => Copy(tensors, toRegion: true, slot);

    /// <summary>Copies payload slot <paramref name="slot"/> of the region into the tensors.</summary>
    public void Read(IReadOnlyList<Tensor> tensors, int slot = 0) => Copy(tensors, toRegion: false, slot);

    /// <summary>Copies payload slot <paramref name="slot"/> into the tensors; false if it held NaN or infinite values (checked in the same pass).</summary>
    public bool ReadChecked(IReadOnlyList<Tensor> tensors, int slot = 0)
    {
        long total = tensors.Sum(t => t.numel() * sizeof(float));
        bool finite = true;
        long offset = SlotOffset(total, slot) / sizeof(float);
        foreach (var tensor in tensors)
        {
            int n = checked((int)tensor.numel());
            finite &= Training.FiniteCheck.CopyAllFinite(Floats(offset, n), Training.TensorChunks.Floats(tensor, 0, n));
            offset += n;
        }
        return finite;
    }

    /// <summary>Where slot <paramref name="slot"/> of payloads of <paramref name="payloadBytes"/> starts; the region must hold whole slots.</summary>
    private long SlotOffset(long payloadBytes, int slot)
    {
        if (payloadBytes == 0 || Bytes % payloadBytes != 0 || slot < 0 || (slot + 1) * payloadBytes > Bytes)
            throw new WireError($"tensors of {payloadBytes} bytes (slot {slot}) do not fit a shared region of {Bytes}");
        return slot * payloadBytes;
    }

    private void Copy(IReadOnlyList<Tensor> tensors, bool toRegion, int slot)
    {
        long total = tensors.Sum(t => t.numel() * sizeof(float));
        long offset = SlotOffset(total, slot);
        foreach (var tensor in tensors)
        {
            var memory = FrameChannel.Float32Bytes(tensor);
            var region = new Span<byte>(start + CookieBytes + offset, memory.Length);
            if (toRegion) memory.CopyTo(region);
            else region.CopyTo(memory);
            offset += memory.Length;
        }
    }

    public void Dispose()
    {
        view.SafeMemoryMappedViewHandle.ReleasePointer();
        view.Dispose();
        file.Dispose();
        if (owner) File.Delete(Path);
    }
}
