using System.Net;
using System.Net.Sockets;
using VaeCluster.DataPlane;

namespace VaeCluster.Tests.DataPlane;

/// <summary>Two ends of a real TCP connection on loopback: one as a FrameChannel, one as a raw socket or channel.</summary>
public sealed class LoopbackPair : IDisposable
{
    public Socket Left { get; }
    public Socket Right { get; }

    public LoopbackPair()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Left = new Socket(SocketType.Stream, ProtocolType.Tcp);
        Left.Connect(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        Right = listener.AcceptSocket();
        Right.ReceiveTimeout = 5000;
    }

    public void Dispose()
    {
        Left.Dispose();
        Right.Dispose();
    }
}
