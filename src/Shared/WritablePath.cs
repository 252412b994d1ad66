using System.Runtime.InteropServices;

namespace VaeCluster;

/// <summary>
/// Whether files can be made at a path, asked before any work starts, so that a misnamed or read-only destination
/// is one line up front instead of an exception after the work (or after half a run directory exists). Nothing is
/// written to find out: the kernel is asked (access(2)), and it answers as it would answer the write itself,
/// read-only mounts, immutable folders and root included.
/// </summary>
public static partial class WritablePath
{
    /// <summary>Why <paramref name="path"/> cannot be used as a folder to write into (made if missing), or null.</summary>
    public static string? ForFolder(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) return "no folder named";
        var full = Path.GetFullPath(path);
        if (File.Exists(full)) return "is a file, not a folder";
        var existing = full;
        while (!Directory.Exists(existing))
        {
            var parent = Path.GetDirectoryName(existing);
            if (parent is null) return $"{existing} does not exist";
            if (File.Exists(parent)) return $"{parent} is a file, not a folder";
            existing = parent;
        }
        return CanWriteIn(existing) ? null : $"cannot write in {existing} (read-only or no permission)";
    }

    /// <summary>Why a file cannot be written at <paramref name="path"/> (its folder made if missing), or null.</summary>
    public static string? ForFile(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) return "no file named";
        if (path.EndsWith('/') || Directory.Exists(path)) return "names a folder; give a file name";
        // Files are replaced by renaming a new file over them (AtomicFile): only the folder needs to be writable.
        return ForFolder(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    private static bool CanWriteIn(string folder) =>
        !(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) || access(folder, WriteOk | ExecuteOk) == 0;

    private const int WriteOk = 2, ExecuteOk = 1;

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int access(string path, int mode);
}
