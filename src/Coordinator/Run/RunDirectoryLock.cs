using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace VaeCluster.Coordinator.Run;

/// <summary>
/// One process owns a run directory at a time: two trainers in one directory would each set the other's ledger lines
/// aside and write over each other's checkpoints. The lock is flock(2) on the directory itself, asked for without
/// waiting, so a second process is refused at once, and nothing has to be written to take it (a refusal leaves the
/// directory as it was). The kernel lets go when the owner's descriptor closes, exit and kill -9 included, so a
/// crash leaves no stale lock to clear by hand. <see cref="RunDirectory.Owner"/> names the holder, for the refusal;
/// the lock alone decides, and that note goes when the owner lets go.
/// </summary>
public sealed partial class RunDirectoryLock : IDisposable
{
    private readonly RunDirectory run;
    // A bare descriptor, not a SafeHandle: a finalizer must never close it (and so unlock the run) while the run goes on.
    private int descriptor;

    private RunDirectoryLock(RunDirectory run, int descriptor)
    {
        this.run = run;
        this.descriptor = descriptor;
    }

    /// <summary>
    /// Makes the directory if it is missing, then owns it for <paramref name="command"/> (as "./vae train") until
    /// disposed. Held by another process: <see cref="RunDirectoryInUse"/>, whose message ends with
    /// <paramref name="advice"/>. The workers a cluster run starts never take it: they write only their own logs.
    /// </summary>
    public static RunDirectoryLock Take(RunDirectory run, string command, string advice)
    {
        Directory.CreateDirectory(run.Root);
        // Linux only, as the CLI is (its libtorch is linux-x64). O_CLOEXEC: the worker processes a cluster run
        // starts must not inherit the descriptor, or the lock would outlive a coordinator that dies before them.
        int fd = open(run.Root, ReadOnly | CloseOnExec);
        if (fd < 0) throw new RunFileError(run.Root, $"cannot be opened to lock it ({Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())})");
        if (flock(fd, Exclusive | NoWait) != 0)
        {
            int error = Marshal.GetLastPInvokeError();
            close(fd);
            if (error == WouldBlock) throw new RunDirectoryInUse(run.Root, Holder(run), advice);
            throw new RunFileError(run.Root, $"cannot be locked for this process ({Marshal.GetPInvokeErrorMessage(error)})");
        }
        var owned = new RunDirectoryLock(run, fd);
        owned.Describe(command);
        return owned;
    }

    /// <summary>
    /// Names this process in the run directory. A convenience: where it cannot be written, the lock still holds.
    /// Written in place, not synced to disk: it is gone at the owner's end, and a reader retries a half-written one.
    /// </summary>
    private void Describe(string command)
    {
        var note = new OwnerNote(Environment.ProcessId, Environment.MachineName, command, DateTimeOffset.Now);
        try { File.WriteAllText(run.Owner, JsonSerializer.Serialize(note, Json) + "\n"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* the refusal then names nobody */ }
    }

    /// <summary>
    /// Who holds the directory, as the refusal says it. Refused the instant another process took the lock (two started
    /// together), its note may not be written yet, or a killed owner's may still be there: it gets a moment to appear.
    /// </summary>
    private static string Holder(RunDirectory run)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            if (ReadNote(run) is { } note && !note.DiedHere)
                return $"process {note.Pid} on host {note.Host} ({note.Command})";
            if (waited.Elapsed > NoteDelay) return "another process";
            Thread.Sleep(20);
        }
    }

    private static readonly TimeSpan NoteDelay = TimeSpan.FromSeconds(1);

    private static OwnerNote? ReadNote(RunDirectory run)
    {
        try { return JsonSerializer.Deserialize<OwnerNote>(File.ReadAllText(run.Owner), Json); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException) { return null; }
    }

    public void Dispose()
    {
        if (descriptor < 0) return;
        // The note first: once unlocked, the next owner's note may already be there.
        try { File.Delete(run.Owner); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        close(descriptor);
        descriptor = -1;
    }

    private sealed record OwnerNote(int Pid, string Host, string Command, DateTimeOffset Since)
    {
        /// <summary>Written by a process of this machine that is gone: a note the kernel's lock outlived.</summary>
        [JsonIgnore]
        public bool DiedHere => Host == Environment.MachineName && !IsRunning(Pid);

        private static bool IsRunning(int pid)
        {
            try { using var process = Process.GetProcessById(pid); return !process.HasExited; }
            catch (ArgumentException) { return false; }
        }
    }

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private const int ReadOnly = 0, CloseOnExec = 0x80000; // O_RDONLY, O_CLOEXEC (Linux)
    private const int Exclusive = 2, NoWait = 4;           // LOCK_EX, LOCK_NB
    private const int WouldBlock = 11;                     // EWOULDBLOCK (Linux)

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(int fd, int operation);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}

/// <summary>A run directory another process owns: one line that names it (<see cref="RunDirectoryLock"/>).</summary>
public sealed class RunDirectoryInUse(string root, string holder, string advice)
    : Exception($"{root} is in use by {holder}; {advice}");
