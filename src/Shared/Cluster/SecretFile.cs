using System.Runtime.InteropServices;
using System.Text;

namespace VaeCluster.Cluster;

/// <summary>
/// Reads the cluster secret from the file --secret-file names. What cannot be a secret is refused before it can do
/// harm: only a regular file is opened (opening a FIFO blocks until someone writes; a device such as /dev/zero never
/// ends), and no more than <see cref="MaxBytes"/> are read. A file that group or others can read still works, with a
/// warning: the secret is only as private as its file.
/// </summary>
public static partial class SecretFile
{
    /// <summary>A secret is one line; anything longer is the wrong file.</summary>
    public const int MaxBytes = 4096;

    /// <summary>The secret, or why the file cannot give one (phrased for a user); and a warning about its mode.</summary>
    public sealed record Reading(string? Secret, string? Problem, string? Warning = null);

    public static Reading Read(string path)
    {
        string flag = $"--secret-file {path}";
        var (kind, mode) = Inspect(path);
        if (kind switch
            {
                Kind.Missing => "file not found",
                Kind.Directory => "is a directory; name the file that holds the secret",
                Kind.Other => "is not a regular file (a device, FIFO or socket); put the secret in a file of its own",
                _ => null,
            } is { } refused)
            return new Reading(null, $"{flag}: {refused}");

        byte[] bytes;
        try { bytes = ReadAtMost(path, MaxBytes + 1); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new Reading(null, $"{flag}: cannot be read ({e.Message.TrimEnd('.')})");
        }
        if (bytes.Length > MaxBytes) return new Reading(null, $"{flag}: longer than {MaxBytes / 1024} KiB; a secret is one line");
        string secret = Encoding.UTF8.GetString(bytes).Trim();
        if (secret.Length == 0) return new Reading(null, $"{flag}: the file is empty");
        if (ClusterSecret.Weakness(secret) is { } weak) return new Reading(null, $"{flag}: {weak} (make one with: openssl rand -hex 32 > {path})");

        const UnixFileMode othersMayRead = UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        string? warning = (mode & othersMayRead) != 0
            ? $"{flag} can be read by group or others (mode {Convert.ToString((int)mode & 0x1FF, 8)}); make it owner-only: chmod 600 {path}"
            : null;
        return new Reading(secret, null, warning);
    }

    private static byte[] ReadAtMost(string path, int limit)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
        var buffer = new byte[limit];
        int total = 0;
        for (int read; total < limit && (read = stream.Read(buffer, total, limit - total)) > 0;) total += read;
        return buffer[..total];
    }

    private enum Kind { Missing, Regular, Directory, Other }

    /// <summary>The file's type and mode, symbolic links followed, asked without opening it (statx(2)).</summary>
    private static (Kind Kind, UnixFileMode Mode) Inspect(string path)
    {
        try
        {
            if (statx(AtCurrentDirectory, path, 0, StatxType | StatxMode, out var status) != 0)
                return Marshal.GetLastPInvokeError() is NoSuchEntry or NotADirectory ? (Kind.Missing, 0) : ManagedInspect(path);
            var kind = (status.Mode & TypeMask) switch
            {
                RegularType => Kind.Regular,
                DirectoryType => Kind.Directory,
                _ => Kind.Other,
            };
            return (kind, (UnixFileMode)(status.Mode & 0xFFF));
        }
        catch (EntryPointNotFoundException)
        {
            return ManagedInspect(path); // no statx (not Linux): the bounded read still stops a device that never ends
        }
    }

    private static (Kind, UnixFileMode) ManagedInspect(string path) =>
        Directory.Exists(path) ? (Kind.Directory, 0)
        : !File.Exists(path) ? (Kind.Missing, 0)
        : (Kind.Regular, OperatingSystem.IsWindows() ? 0 : File.GetUnixFileMode(path));

    private const int AtCurrentDirectory = -100, NoSuchEntry = 2, NotADirectory = 20;
    private const uint StatxType = 0x1, StatxMode = 0x2;
    private const int TypeMask = 0xF000, RegularType = 0x8000, DirectoryType = 0x4000;

    /// <summary>struct statx: the same layout on every Linux architecture; only stx_mode is read.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct Statx
    {
        [FieldOffset(28)] public ushort Mode;
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int statx(int directory, string path, int flags, uint mask, out Statx status);
}
