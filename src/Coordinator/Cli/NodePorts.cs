using System.Net;
using System.Net.Sockets;
using VaeCluster.Cluster;

namespace VaeCluster.Coordinator.Cli;

/// <summary>
/// This node's address and ports, bound before anything is written: a host name that does not resolve, an address
/// of another machine, a port in use, or one port asked for twice is one line, and no run directory is left behind.
/// The sockets are held, so nothing can take the ports meanwhile, until the host is about to bind them for good.
/// </summary>
public sealed class NodePorts : IDisposable
{
    private readonly List<Socket> held;

    private NodePorts(List<Socket> held) => this.held = held;

    /// <param name="dataPlane">whether this node also serves the data plane (the coordinator) on DataPort</param>
    public static NodePorts Hold(ClusterSettings settings, bool dataPlane)
    {
        if (dataPlane && settings.Port != 0 && settings.Port == settings.DataPort)
            throw new UserError($"--port and --data-port are both {settings.Port}: Akka.Remote and the data plane need a port each");
        var address = Resolve(settings.Host);
        var held = new List<Socket>();
        try
        {
            held.Add(Bind(address, settings.Host, settings.Port, "--port"));
            if (dataPlane) held.Add(Bind(address, settings.Host, settings.DataPort, "--data-port"));
            return new NodePorts(held);
        }
        catch
        {
            foreach (var socket in held) socket.Dispose();
            throw;
        }
    }

    /// <summary>The address the data plane binds too (DataPlaneListener takes the first a name resolves to).</summary>
    private static IPAddress Resolve(string host)
    {
        if (IPAddress.TryParse(host, out var ip)) return ip;
        try
        {
            if (Dns.GetHostAddresses(host) is [var first, ..]) return first;
        }
        catch (SocketException) { }
        throw new UserError($"--host {host}: no such host name; give an address of this machine, such as 127.0.0.1, or 0.0.0.0 for all of them");
    }

    private static Socket Bind(IPAddress address, string host, int port, string flag)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // As servers bind: a port whose last connections linger in TIME_WAIT is free; one that is listened on is not.
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(1);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new UserError(e.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => $"{flag} {port}: already in use on {host}; stop what holds it (another node still running?) or choose another {flag}",
                SocketError.AddressNotAvailable => $"--host {host}: not an address of this machine; give one of its addresses, or 0.0.0.0 for all of them",
                SocketError.AccessDenied => $"{flag} {port}: this user may not bind it (ports below 1024 need privileges); choose another {flag}",
                _ => $"{flag} {port} on {host}: {e.Message}",
            });
        }
    }

    /// <summary>Lets the ports go, for the host to bind them at once.</summary>
    public void Dispose()
    {
        foreach (var socket in held) socket.Dispose();
        held.Clear();
    }
}
