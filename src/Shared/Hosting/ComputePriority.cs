using System.Runtime.InteropServices;

namespace VaeCluster.Hosting;

/// <summary>
/// Lowers the scheduling priority of the calling compute thread (Linux: nice 10 for that thread alone). A worker's
/// compute threads keep every core busy, and the threads that move tensors and answer (the data plane's readers and
/// senders, the coordinator, Akka) then wait for a core at every wake-up: measured on 2 cores, a node's reader
/// received a Shard header 1-2 ms after the coordinator wrote it, and the next node's turn started 2 ms late. At a
/// lower priority the compute threads still get every core nobody else wants, and a thread that wakes with bytes to
/// move gets one at once. Lowering one's own priority needs no privilege.
/// </summary>
public static partial class ComputePriority
{
    /// <summary>The nice value of compute threads (0 is the default, 19 the lowest).</summary>
    public const int Nice = 10;

    /// <returns>false where it could not be lowered (not Linux); the thread then computes at the default priority.</returns>
    public static bool LowerForThisThread()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try { return setpriority(PrioProcess, gettid(), Nice) == 0; }
        catch (EntryPointNotFoundException) { return false; }
        catch (DllNotFoundException) { return false; }
    }

    /// <summary>The calling thread's nice value, or null where it cannot be read.</summary>
    public static int? OfThisThread()
    {
        if (!OperatingSystem.IsLinux()) return null;
        Marshal.SetLastPInvokeError(0);
        int nice = getpriority(PrioProcess, gettid());
        return nice == -1 && Marshal.GetLastPInvokeError() != 0 ? null : nice;
    }

    private const int PrioProcess = 0; // with a thread id, Linux sets that thread alone

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setpriority(int which, int who, int prio);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getpriority(int which, int who);

    [LibraryImport("libc")]
    private static partial int gettid();
}
