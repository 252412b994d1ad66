namespace VaeCluster;

/// <summary>
/// Writes a file so that readers see either the old content or the complete new one: write a temporary file in
/// the same directory, flush it to disk, rename it over the target.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var temp = $"{full}.tmp-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                // On disk before the rename, or a power cut could leave the real name over incomplete bytes.
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* the original error matters more */ }
            throw;
        }
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, stream => { using var w = new StreamWriter(stream, leaveOpen: true); w.Write(text); });
}
