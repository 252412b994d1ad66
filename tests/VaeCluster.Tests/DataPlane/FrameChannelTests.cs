using System.Buffers.Binary;
using VaeCluster.DataPlane;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.DataPlane;

/// <summary>The data-plane wire format over a real loopback connection: round trips, and frames it must refuse.</summary>
public sealed class FrameChannelTests : IDisposable
{
    private readonly LoopbackPair pair = new();
    private readonly FrameChannel sender;
    private readonly FrameChannel receiver;

    public FrameChannelTests()
    {
        sender = new FrameChannel(pair.Left);
        receiver = new FrameChannel(pair.Right);
        receiver.SetReceiveTimeout(TimeSpan.FromSeconds(5));
    }

    public void Dispose()
    {
        sender.Dispose();
        receiver.Dispose();
        pair.Dispose();
    }

    [Fact]
    public void Shard_frame_carries_indices_noise_and_parameters_exactly()
    {
        var parameters = new[] { randn(400, 784), randn(400) };
        var shard = new ShardFrame(Step: 41, ShardIndex: 1, Latent: 2, SampleIndices: [5, 9, 11], Noise: [0.5f, -1, 2, 3, 4, 5]);
        sender.Send(shard, parameters, PayloadCodec.Fp32);

        var frame = receiver.Receive();
        var got = Assert.IsType<ShardFrame>(frame.Message);
        Assert.Equal((41L, 1, 2), (got.Step, got.ShardIndex, got.Latent));
        Assert.Equal(shard.SampleIndices, got.SampleIndices);
        Assert.Equal(shard.Noise, got.Noise);
        var into = new[] { zeros(400, 784), zeros(400) };
        receiver.ReceivePayload(frame, into, PayloadCodec.Fp32);
        Assert.True(into[0].equal(parameters[0]).all().item<bool>());
        Assert.True(into[1].equal(parameters[1]).all().item<bool>());
    }

    [Fact]
    public void Gradient_and_control_frames_round_trip()
    {
        var layout = new[] { new TensorLayout("fc1.weight", [400, 784]), new TensorLayout("fc1.bias", [400]) };
        sender.Send(new WelcomeFrame(layout));
        sender.Send(new GradientFrame(7, 0, 64, 1.5, 4321));
        sender.Send(new HelloFrame("worker-1", "ABCD"));
        sender.Send(new ByeFrame("training finished"));
        sender.Send(new ChallengeFrame(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));

        var welcome = Assert.IsType<WelcomeFrame>(receiver.Receive().Message);
        Assert.True(TensorLayout.SameAs(layout, welcome.Layout));
        Assert.Equal(new GradientFrame(7, 0, 64, 1.5, 4321), receiver.Receive().Message);
        Assert.Equal(new HelloFrame("worker-1", "ABCD"), receiver.Receive().Message);
        Assert.Equal(new ByeFrame("training finished"), receiver.Receive().Message);
        Assert.Equal(Enumerable.Range(0, 32).Select(i => (byte)i), Assert.IsType<ChallengeFrame>(receiver.Receive().Message).Nonce);
    }

    [Fact]
    public void A_payload_of_the_wrong_size_is_refused_before_anything_is_written()
    {
        sender.Send(new GradientFrame(1, 0, 2, 1, 0), [ones(10)], PayloadCodec.Fp32);
        var frame = receiver.Receive();
        var into = new[] { zeros(11) };
        var error = Assert.Throws<WireError>(() => receiver.ReceivePayload(frame, into, PayloadCodec.Fp32));
        Assert.Contains("payload is 40 bytes, expected 44", error.Message);
        Assert.Equal(0f, into[0].sum().item<float>());
    }

    [Fact]
    public void A_bf16_payload_is_half_the_bytes_and_says_so_in_its_prefix()
    {
        sender.Send(new GradientFrame(1, 0, 2, 1, 0), [full(10, 1.00390625f)], PayloadCodec.Bf16);
        var frame = receiver.Receive();
        Assert.Equal((20L, WirePrecision.Bf16), (frame.PayloadBytes, frame.Encoding));
        var into = new[] { zeros(10) };
        receiver.ReceivePayload(frame, into, PayloadCodec.Bf16);
        Assert.Equal(Enumerable.Repeat(1f, 10), into[0].data<float>().ToArray()); // 1 + 2^-8 is a tie: to even, 1

        sender.Send(new GradientFrame(2, 0, 2, 1, 0), [ones(10)], PayloadCodec.Bf16);
        var error = Assert.Throws<WireError>(() => receiver.ReceivePayload(receiver.Receive(), into, PayloadCodec.Fp32));
        Assert.Contains("payload is bf16, this connection carries fp32", error.Message);
    }

    public static TheoryData<string, byte[], string> BrokenFrames() => new()
    {
        { "bad magic", Prefix(magic: 0x12345678, kind: 6, header: 1, payload: 0, body: [0]), "bad magic" },
        { "other version", Prefix(version: 9, kind: 6, header: 1, payload: 0, body: [0]), "version 9" },
        { "unknown payload encoding", Prefix(kind: 6, header: 1, payload: 0, body: [0], encoding: 7), "unknown payload encoding 7" },
        { "unknown kind", Prefix(kind: 99, header: 0, payload: 0, body: []), "unknown frame kind 99" },
        { "negative header length", Prefix(kind: 6, header: -1, payload: 0, body: []), "out of range" },
        { "huge header length", Prefix(kind: 6, header: FrameChannel.MaxHeaderBytes + 1, payload: 0, body: []), "out of range" },
        { "Hello header past its kind's bound", Prefix(kind: 1, header: HelloFrame.MaxHeaderBytes + 1, payload: 0, body: []), "Hello header of 12296 bytes is out of range (0-12295)" },
        { "Gradient header past its fixed size", Prefix(kind: 5, header: GradientFrame.HeaderBytes + 1, payload: 0, body: []), "out of range (0-32)" },
        { "negative payload", Prefix(kind: 6, header: 1, payload: -5, body: [0]), "out of range" },
        { "header shorter than its fields", Prefix(kind: 5, header: 4, payload: 0, body: [1, 2, 3, 4]), "shorter than its fields" },
        { "trailing bytes", Prefix(kind: 6, header: 3, payload: 0, body: [1, (byte)'x', 7]), "trailing bytes" },
        { "negative sample count", Prefix(kind: 4, header: 20, payload: 0, body: ShardHeader(latent: 2, samples: -3)), "sample count -3" },
        { "zero latent", Prefix(kind: 4, header: 20, payload: 0, body: ShardHeader(latent: 0, samples: 1)), "at least one" },
    };

    [Theory]
    [MemberData(nameof(BrokenFrames))]
    public void Broken_frames_are_refused_with_their_reason(string what, byte[] bytes, string reason)
    {
        pair.Left.Send(bytes);
        var error = Assert.Throws<WireError>(() => receiver.Receive());
        Assert.True(error.Message.Contains(reason), $"{what}: '{error.Message}' should mention '{reason}'");
    }

    [Fact]
    public void A_connection_closed_mid_frame_ends_the_stream()
    {
        pair.Left.Send(Prefix(kind: 6, header: 10, payload: 0, body: [1, 2]));
        pair.Left.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        Assert.Throws<EndOfStreamException>(() => receiver.Receive());
    }

    private static byte[] Prefix(int kind, int header, long payload, byte[] body, uint magic = FrameChannel.Magic, byte version = FrameChannel.Version, byte encoding = 0)
    {
        var bytes = new byte[FrameChannel.PrefixBytes + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, magic);
        bytes[4] = version;
        bytes[5] = (byte)kind;
        bytes[6] = encoding;
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), header);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(12), payload);
        body.CopyTo(bytes, FrameChannel.PrefixBytes);
        return bytes;
    }

    private static byte[] ShardHeader(int latent, int samples)
    {
        var bytes = new byte[20];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, 3);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), 0);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(12), latent);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(16), samples);
        return bytes;
    }
}
