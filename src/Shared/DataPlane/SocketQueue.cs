using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace VaeCluster.DataPlane;

/// <summary>
/// How many bytes a TCP socket still holds that its peer has not acknowledged (Linux's SIOCOUTQ), and a short sleep
/// to poll it with: a send returns once the kernel has the bytes, which says nothing of when they are on the wire.
/// </summary>
internal static partial class SocketQueue
{
    private const nuint SiocOutq = 0x5411; // TIOCOUTQ

    /// <returns>false where the number cannot be had (not Linux, or the socket is gone).</returns>
    public static bool TryUnacknowledged(Socket socket, out int bytes)
    {
        bytes = 0;
        if (!OperatingSystem.IsLinux()) return false;
        try { return ioctl(socket.Handle, SiocOutq, out bytes) == 0; }
        catch (ObjectDisposedException) { return false; }
    }

    public static void Nap(uint microseconds) => usleep(microseconds);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(nint fd, nuint request, out int value);

    [LibraryImport("libc")]
    private static partial int usleep(uint microseconds);
}
