using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using static TorchSharp.torch;

namespace VaeCluster.DataPlane;

/// <summary>
/// One data-plane connection: length-prefixed frames over a TCP socket (docs/WIRE_FORMAT.md).
/// Tensor payloads go from tensor memory straight to the socket and from the socket straight into tensor
/// memory, with no intermediate buffer. One thread may send while another receives.
/// </summary>
public sealed class FrameChannel : IDisposable
{
    public const uint Magic = 0x46454156; // "VAEF" in little-endian bytes
    public const byte Version = 1;
    public const int PrefixBytes = 20;
    public const int MaxHeaderBytes = 8 << 20;
    public const long MaxPayloadBytes = 1L << 31;
    private const int SocketBufferBytes = 4 << 20;

    private readonly Socket socket;
    private readonly byte[] prefix = new byte[PrefixBytes];

    public FrameChannel(Socket socket)
    {
        this.socket = socket;
        socket.NoDelay = true; // a frame's tail must not wait for an acknowledgement
        socket.SendBufferSize = SocketBufferBytes;
        socket.ReceiveBufferSize = SocketBufferBytes;
        Remote = socket.RemoteEndPoint?.ToString() ?? "?";
    }

    public string Remote { get; }

    /// <summary>Bytes sent and received so far, payload included.</summary>
    public long BytesSent { get; private set; }
    public long BytesReceived { get; private set; }

    public static FrameChannel Connect(string host, int port, TimeSpan timeout)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            using var cancel = new CancellationTokenSource(timeout);
            socket.ConnectAsync(host, port, cancel.Token).AsTask().GetAwaiter().GetResult();
            return new FrameChannel(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Send(IWireMessage message, IReadOnlyList<Tensor>? payload = null)
    {
        using var header = new MemoryStream();
        header.SetLength(PrefixBytes);
        header.Position = PrefixBytes;
        using (var writer = new BinaryWriter(header, Encoding.UTF8, leaveOpen: true)) message.Write(writer);
        int headerBytes = (int)header.Length - PrefixBytes;
        long payloadBytes = payload?.Sum(t => t.numel() * sizeof(float)) ?? 0;

        var frame = header.GetBuffer().AsSpan(0, (int)header.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(frame, Magic);
        frame[4] = Version;
        frame[5] = (byte)message.Kind;
        BinaryPrimitives.WriteUInt16LittleEndian(frame[6..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(frame[8..], headerBytes);
        BinaryPrimitives.WriteInt64LittleEndian(frame[12..], payloadBytes);
        SendAll(frame);
        foreach (var tensor in payload ?? []) SendAll(Float32Bytes(tensor));
    }

    /// <summary>Reads the next frame's prefix and header; its payload must then be received or skipped.</summary>
    public ReceivedFrame Receive()
    {
        ReceiveAll(prefix);
        if (BinaryPrimitives.ReadUInt32LittleEndian(prefix) != Magic) throw new WireError("not a VaeCluster data-plane frame (bad magic)");
        if (prefix[4] != Version) throw new WireError($"wire format version {prefix[4]}, this node speaks {Version}");
        var kind = (FrameKind)prefix[5];
        int headerBytes = BinaryPrimitives.ReadInt32LittleEndian(prefix.AsSpan(8));
        long payloadBytes = BinaryPrimitives.ReadInt64LittleEndian(prefix.AsSpan(12));
        if (headerBytes is < 0 or > MaxHeaderBytes) throw new WireError($"header of {headerBytes} bytes is out of range");
        if (payloadBytes is < 0 or > MaxPayloadBytes) throw new WireError($"payload of {payloadBytes} bytes is out of range");

        var header = new byte[headerBytes];
        ReceiveAll(header);
        using var reader = new BinaryReader(new MemoryStream(header), Encoding.UTF8);
        IWireMessage message;
        try
        {
            message = kind switch
            {
                FrameKind.Hello => HelloFrame.Read(reader),
                FrameKind.Welcome => WelcomeFrame.Read(reader),
                FrameKind.Refused => RefusedFrame.Read(reader),
                FrameKind.Shard => ShardFrame.Read(reader),
                FrameKind.Gradient => GradientFrame.Read(reader),
                FrameKind.Bye => ByeFrame.Read(reader),
                FrameKind.Challenge => ChallengeFrame.Read(reader),
                FrameKind.ShardFailed => ShardFailedFrame.Read(reader),
                _ => throw new WireError($"unknown frame kind {(byte)kind}"),
            };
        }
        catch (EndOfStreamException)
        {
            throw new WireError($"{kind} header is shorter than its fields");
        }
        if (reader.BaseStream.Position != headerBytes) throw new WireError($"{kind} header has {headerBytes - reader.BaseStream.Position} trailing bytes");
        return new ReceivedFrame(message, payloadBytes);
    }

    /// <summary>Reads the frame's payload into these tensors, after checking it has exactly their size.</summary>
    public void ReceivePayload(ReceivedFrame frame, IReadOnlyList<Tensor> into)
    {
        long expected = into.Sum(t => t.numel() * sizeof(float));
        if (frame.PayloadBytes != expected)
            throw new WireError($"{frame.Message.Kind} payload is {frame.PayloadBytes} bytes, expected {expected} for the model's parameters");
        foreach (var tensor in into) ReceiveAll(Float32Bytes(tensor));
    }

    public void SkipPayload(ReceivedFrame frame)
    {
        var scratch = new byte[64 * 1024];
        for (long left = frame.PayloadBytes; left > 0; left -= scratch.Length)
            ReceiveAll(scratch.AsSpan(0, (int)Math.Min(scratch.Length, left)));
    }

    internal static Span<byte> Float32Bytes(Tensor tensor)
    {
        if (tensor.dtype != ScalarType.Float32 || !tensor.is_contiguous() || tensor.device_type != TorchSharp.DeviceType.CPU)
            throw new ArgumentException("payload tensors must be contiguous float32 CPU tensors", nameof(tensor));
        return tensor.bytes;
    }

    private void SendAll(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            int sent = socket.Send(bytes);
            bytes = bytes[sent..];
            BytesSent += sent;
        }
    }

    private void ReceiveAll(Span<byte> into)
    {
        while (!into.IsEmpty)
        {
            int got = socket.Receive(into);
            if (got == 0) throw new EndOfStreamException("the peer closed the data-plane connection");
            into = into[got..];
            BytesReceived += got;
        }
    }

    /// <summary>Gives up on blocking receives after this long (handshakes); null waits forever.</summary>
    public void SetReceiveTimeout(TimeSpan? timeout) =>
        socket.ReceiveTimeout = timeout is { } t ? (int)t.TotalMilliseconds : 0;

    public void Dispose()
    {
        try { socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        socket.Dispose();
    }
}

/// <summary>A frame whose header has been read; PayloadBytes of tensor data follow on the connection.</summary>
public sealed record ReceivedFrame(IWireMessage Message, long PayloadBytes);
