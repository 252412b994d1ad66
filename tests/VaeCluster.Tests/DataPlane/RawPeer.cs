using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using VaeCluster.DataPlane;

namespace VaeCluster.Tests.DataPlane;

/// <summary>A client that speaks the data plane byte by byte, as a stranger would: slowly, wrongly, or not at all.</summary>
public sealed class RawPeer : IDisposable
{
    public const int ChallengeFrameBytes = FrameChannel.PrefixBytes + ChallengeFrame.HeaderBytes;
    public Socket Socket { get; } = new(SocketType.Stream, ProtocolType.Tcp);

    public RawPeer(int port)
    {
        Socket.Connect(IPAddress.Loopback, port);
        Socket.ReceiveTimeout = 5000;
    }

    /// <summary>Reads the listener's Challenge frame, which proves the connection was accepted.</summary>
    public void ReadChallenge()
    {
        var bytes = new byte[ChallengeFrameBytes];
        for (int got = 0; got < bytes.Length;)
        {
            int n = Socket.Receive(bytes, got, bytes.Length - got, SocketFlags.None);
            if (n == 0) throw new EndOfStreamException("closed before the Challenge");
            got += n;
        }
    }

    /// <summary>Whether the other side closes the connection within the timeout (false: it was still open).</summary>
    public bool ClosedWithin(TimeSpan timeout)
    {
        Socket.ReceiveTimeout = Math.Max(1, (int)timeout.TotalMilliseconds);
        var scratch = new byte[256];
        try
        {
            while (true)
                if (Socket.Receive(scratch) == 0) return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut || e.SocketErrorCode == SocketError.WouldBlock)
        {
            return false;
        }
        catch (SocketException)
        {
            return true; // reset
        }
    }

    public void Dispose() => Socket.Dispose();

    /// <summary>A frame's bytes as FrameChannel writes them, header length and payload length as given.</summary>
    public static byte[] Frame(IWireMessage message, int? announcedHeaderBytes = null, long payloadBytes = 0)
    {
        using var header = new MemoryStream();
        using (var w = new BinaryWriter(header, Encoding.UTF8, leaveOpen: true)) message.Write(w);
        return Prefix(message.Kind, announcedHeaderBytes ?? (int)header.Length, payloadBytes).Concat(header.ToArray()).ToArray();
    }

    public static byte[] Prefix(FrameKind kind, int headerBytes, long payloadBytes)
    {
        var bytes = new byte[FrameChannel.PrefixBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, FrameChannel.Magic);
        bytes[4] = FrameChannel.Version;
        bytes[5] = (byte)kind;
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), headerBytes);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(12), payloadBytes);
        return bytes;
    }
}
