using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using static TorchSharp.torch;

namespace VaeCluster.DataPlane;

/// <summary>
/// One data-plane connection: length-prefixed frames over a TCP socket (docs/WIRE_FORMAT.md).
/// Tensor payloads go from tensor memory to the socket and from the socket into tensor memory through the link's
/// <see cref="PayloadCodec"/> (float32 as it is, with no intermediate buffer; or bfloat16). One thread may send while
/// another receives.
/// </summary>
public sealed class FrameChannel : IDisposable
{
    public const uint Magic = 0x46454156; // "VAEF" in little-endian bytes
    public const byte Version = 3; // 3: the prefix says how the payload's values are encoded (--wire)
    public const int PrefixBytes = 20;
    /// <summary>The largest header of any kind (Shard and Welcome); the other kinds have tighter bounds of their own.</summary>
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

    /// <summary>
    /// Waits until at most <paramref name="bytes"/> of what was sent are not yet acknowledged by the peer, or until
    /// <paramref name="deadline"/> (it polls every 100 us); returns at once where the kernel cannot say (not Linux).
    /// </summary>
    public void WaitUntilAcknowledged(int bytes, DateTime deadline)
    {
        while (SocketQueue.TryUnacknowledged(socket, out int queued) && queued > bytes && DateTime.UtcNow < deadline)
            SocketQueue.Nap(100);
    }

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

    public void Send(IWireMessage message) => SendAll(Encode(message, payloadBytes: 0, WirePrecision.Fp32));

    /// <summary>Sends a frame whose payload is these float32 tensors, back to back, encoded by <paramref name="codec"/>.</summary>
    public void Send(IWireMessage message, IReadOnlyList<Tensor> payload, PayloadCodec codec)
    {
        SendAll(Encode(message, codec.PayloadBytes(payload), codec.Precision));
        foreach (var tensor in payload) codec.Write(MemoryMarshal.Cast<byte, float>(Float32Bytes(tensor)), SendAll);
    }

    /// <summary>A frame's prefix and header, ready to send; the payload, if any, follows separately.</summary>
    private static byte[] Encode(IWireMessage message, long payloadBytes, WirePrecision encoding)
    {
        using var header = new MemoryStream();
        header.SetLength(PrefixBytes);
        header.Position = PrefixBytes;
        using (var writer = new BinaryWriter(header, Encoding.UTF8, leaveOpen: true)) message.Write(writer);
        var frame = header.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(frame, Magic);
        frame[4] = Version;
        frame[5] = (byte)message.Kind;
        frame[6] = (byte)encoding;
        frame[7] = 0;
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(8), frame.Length - PrefixBytes);
        BinaryPrimitives.WriteInt64LittleEndian(frame.AsSpan(12), payloadBytes);
        return frame;
    }

    /// <summary>Reads the next frame's prefix and header; its payload must then be received or skipped.</summary>
    public ReceivedFrame Receive()
    {
        ReceiveAll(prefix);
        var (kind, headerBytes, payloadBytes, encoding) = ReadPrefix();
        var header = new byte[headerBytes];
        ReceiveAll(header);
        return new ReceivedFrame(Decode(kind, header), payloadBytes, encoding);
    }

    /// <summary>
    /// Reads one payload-free frame of the expected kind without blocking a thread, for handshakes with peers
    /// not yet trusted: the kind and the header's size are checked on the 20-byte prefix, so a header is only
    /// allocated once it is known to be small, and <paramref name="cancel"/> ends the wait at any byte.
    /// </summary>
    public async Task<IWireMessage> ReceiveHandshakeAsync(FrameKind expected, CancellationToken cancel)
    {
        await ReceiveAllAsync(prefix, cancel);
        var (kind, headerBytes, payloadBytes, _) = ReadPrefix();
        if (kind != expected) throw new WireError($"expected {expected} as the first frame, got {kind}");
        if (payloadBytes != 0) throw new WireError($"a {kind} frame carries no payload, this one announces {payloadBytes} bytes");
        var header = new byte[headerBytes];
        await ReceiveAllAsync(header, cancel);
        return Decode(kind, header);
    }

    /// <summary>Sends a payload-free frame without blocking a thread (handshakes).</summary>
    public async Task SendAsync(IWireMessage message, CancellationToken cancel)
    {
        var frame = Encode(message, payloadBytes: 0, WirePrecision.Fp32);
        for (int sent = 0; sent < frame.Length;)
        {
            int n = await socket.SendAsync(frame.AsMemory(sent), SocketFlags.None, cancel);
            sent += n;
            BytesSent += n;
        }
    }

    /// <summary>
    /// Checks the prefix just read: magic, version, a known kind and payload encoding, and lengths within that kind's
    /// bounds, all before the header is allocated, so a peer announcing a huge header costs nothing.
    /// </summary>
    private (FrameKind Kind, int HeaderBytes, long PayloadBytes, WirePrecision Encoding) ReadPrefix()
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(prefix) != Magic) throw new WireError("not a VaeCluster data-plane frame (bad magic)");
        if (prefix[4] != Version) throw new WireError($"wire format version {prefix[4]}, this node speaks {Version}");
        var kind = (FrameKind)prefix[5];
        if (!Kinds.TryGetValue(kind, out var known)) throw new WireError($"unknown frame kind {(byte)kind}");
        int headerBytes = BinaryPrimitives.ReadInt32LittleEndian(prefix.AsSpan(8));
        long payloadBytes = BinaryPrimitives.ReadInt64LittleEndian(prefix.AsSpan(12));
        if (headerBytes < 0 || headerBytes > known.MaxHeaderBytes)
            throw new WireError($"{kind} header of {headerBytes} bytes is out of range (0-{known.MaxHeaderBytes})");
        if (payloadBytes is < 0 or > MaxPayloadBytes) throw new WireError($"payload of {payloadBytes} bytes is out of range");
        var encoding = (WirePrecision)prefix[6];
        if (!Enum.IsDefined(encoding)) throw new WireError($"unknown payload encoding {prefix[6]}");
        return (kind, headerBytes, payloadBytes, encoding);
    }

    private static IWireMessage Decode(FrameKind kind, byte[] header)
    {
        using var reader = new BinaryReader(new MemoryStream(header), Encoding.UTF8);
        IWireMessage message;
        try
        {
            message = Kinds[kind].Read(reader);
        }
        catch (EndOfStreamException)
        {
            throw new WireError($"{kind} header is shorter than its fields");
        }
        if (reader.BaseStream.Position != header.Length) throw new WireError($"{kind} header has {header.Length - reader.BaseStream.Position} trailing bytes");
        return message;
    }

    /// <summary>Each kind's decoder and the largest header it can have, checked before a header is read.</summary>
    private static readonly Dictionary<FrameKind, (Func<BinaryReader, IWireMessage> Read, int MaxHeaderBytes)> Kinds = new()
    {
        [FrameKind.Hello] = (HelloFrame.Read, HelloFrame.MaxHeaderBytes),
        [FrameKind.Welcome] = (WelcomeFrame.Read, MaxHeaderBytes),
        [FrameKind.Refused] = (RefusedFrame.Read, WireText.MaxWireBytes),
        [FrameKind.Shard] = (ShardFrame.Read, MaxHeaderBytes),
        [FrameKind.Gradient] = (GradientFrame.Read, GradientFrame.HeaderBytes),
        [FrameKind.Bye] = (ByeFrame.Read, WireText.MaxWireBytes),
        [FrameKind.Challenge] = (ChallengeFrame.Read, ChallengeFrame.HeaderBytes),
        [FrameKind.ShardFailed] = (ShardFailedFrame.Read, ShardFailedFrame.MaxHeaderBytes),
        [FrameKind.Round] = (RoundFrame.Read, MaxHeaderBytes),
        [FrameKind.RoundResult] = (RoundResultFrame.Read, RoundResultFrame.MaxHeaderBytes),
    };

    /// <summary>
    /// Reads the frame's payload into these float32 tensors through <paramref name="codec"/>, after checking that
    /// the payload is in the codec's encoding and has exactly the tensors' size in it.
    /// </summary>
    /// <param name="arrived">told how many tensors are in place after each one (for workers that start on the first ones)</param>
    public void ReceivePayload(ReceivedFrame frame, IReadOnlyList<Tensor> into, PayloadCodec codec, Action<int>? arrived = null)
    {
        if (frame.Encoding != codec.Precision)
            throw new WireError($"{frame.Message.Kind} payload is {WirePrecisionName.Of(frame.Encoding)}, this connection carries {codec}");
        long expected = codec.PayloadBytes(into);
        if (frame.PayloadBytes != expected)
            throw new WireError($"{frame.Message.Kind} payload is {frame.PayloadBytes} bytes, expected {expected} for the model's parameters in {codec}");
        for (int i = 0; i < into.Count; i++)
        {
            codec.Read(MemoryMarshal.Cast<byte, float>(Float32Bytes(into[i])), ReceiveAll);
            arrived?.Invoke(i + 1);
        }
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

    private async Task ReceiveAllAsync(Memory<byte> into, CancellationToken cancel)
    {
        while (!into.IsEmpty)
        {
            int got = await socket.ReceiveAsync(into, SocketFlags.None, cancel);
            if (got == 0) throw new EndOfStreamException("the peer closed the data-plane connection");
            into = into[got..];
            BytesReceived += got;
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

/// <summary>A frame whose header has been read; PayloadBytes of tensor data, values encoded as Encoding, follow on the connection.</summary>
public sealed record ReceivedFrame(IWireMessage Message, long PayloadBytes, WirePrecision Encoding = WirePrecision.Fp32);
