using System.Runtime.InteropServices;

namespace BareLoop;

/// <summary>
/// CPU time of the calling thread (Linux CLOCK_THREAD_CPUTIME_ID). On a machine shared with other work, wall time
/// also counts the time others hold the core; a single-threaded computation's own CPU time does not.
/// </summary>
public static partial class ThreadClock
{
    private const int ClockThreadCpuTimeId = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec { public long Seconds; public long Nanoseconds; }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    public static double Microseconds()
    {
        ClockGetTime(ClockThreadCpuTimeId, out var t);
        return t.Seconds * 1e6 + t.Nanoseconds / 1e3;
    }
}
