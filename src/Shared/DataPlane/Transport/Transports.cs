using VaeCluster.Protocol;
using static TorchSharp.torch;

namespace VaeCluster.DataPlane;

/// <summary>
/// The coordinator's end of one worker node's data plane: it sends a shard with its step's parameters and receives
/// the node's answer. What travels is the same over every transport; how (tensors in the frames over TCP, or
/// through /dev/shm on the coordinator's machine) is the implementation's alone. Frames are always the
/// connection's; the handshake that picks a transport is the gateway's.
/// </summary>
public interface ITransportToNode : IDisposable
{
    /// <summary>For logs: how tensors travel.</summary>
    string Description { get; }

    /// <summary>How values travel (--wire): fp32, or bf16 over TCP when the coordinator says so.</summary>
    WirePrecision Precision { get; }

    /// <summary>Bytes that left and entered through this transport so far, tensors and frames.</summary>
    TransportBytes Bytes { get; }

    /// <summary>
    /// Sends a shard to compute with the parameters of its step (which do not change until the step is applied).
    /// The parameters travel once per step, however many shards of it the node holds.
    /// </summary>
    void SendShard(ShardFrame shard, IReadOnlyList<Tensor> parameters);

    void SendBye(string reason);

    /// <summary>
    /// Blocks for the node's next answer (one reader thread). A Gradient header is handed to
    /// <paramref name="check"/>, which throws to refuse it, before any of its tensor bytes is read; the gradient
    /// comes back in fresh tensors the caller owns, with whether they are all finite (checked while copying).
    /// </summary>
    NodeAnswer Receive(Action<GradientFrame> check);
}

/// <summary>A worker node's end of its data plane: it receives shards with their parameters and sends answers.</summary>
public interface ITransportToCoordinator : IDisposable
{
    string Description { get; }

    WirePrecision Precision { get; }

    TransportBytes Bytes { get; }

    /// <summary>The parameters the node's models compute with: a shard that has arrived finds its step's here.</summary>
    IReadOnlyList<(string Name, Tensor Tensor)> Parameters { get; }

    /// <summary>Blocks for the coordinator's next frame (one reader thread): a <see cref="ShardFrame"/> or a <see cref="ByeFrame"/>.</summary>
    IWireMessage Receive();

    /// <summary>Sends a shard's gradient (from one thread at a time).</summary>
    void SendGradient(GradientFrame header, IReadOnlyList<Tensor> gradient);

    void SendFailure(ShardFailedFrame failure);
}

/// <summary>What a node answered to a shard.</summary>
public abstract record NodeAnswer;

public sealed record GradientAnswer(GradientFrame Header, GradientSum Gradient, bool Finite) : NodeAnswer;

public sealed record FailureAnswer(ShardFailedFrame Failure) : NodeAnswer;

/// <summary>Bytes moved by one transport, counted where they leave and enter it.</summary>
public readonly record struct TransportBytes(long Sent, long Received);
