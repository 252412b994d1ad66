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
    /// Sends a round (--sync-every above 1) with its starting parameters, and the inner optimizer state the node is
    /// to start from, if any (the caller still owns it).
    /// </summary>
    void SendRound(RoundFrame round, IReadOnlyList<Tensor> parameters, InnerOptimizerState? inner);

    /// <summary>
    /// Blocks for the node's next answer (one reader thread). A Gradient or RoundResult header is handed to
    /// <paramref name="check"/> or <paramref name="checkRound"/>, which throw to refuse it, before any of its tensor
    /// bytes is read; the tensors come back fresh, owned by the caller, with whether they are all finite.
    /// A round's answer that carries inner moments is handed to <paramref name="changeFirst"/>, when given, as soon as
    /// its change is in (its Inner null), and Receive then returns the moments as a <see cref="RoundInnerAnswer"/>:
    /// the coordinator can apply the round while the moments still stream in.
    /// </summary>
    NodeAnswer Receive(Action<GradientFrame> check, Action<RoundResultFrame>? checkRound = null, Action<RoundAnswer>? changeFirst = null);
}

/// <summary>A worker node's end of its data plane: it receives shards with their parameters and sends answers.</summary>
public interface ITransportToCoordinator : IDisposable
{
    string Description { get; }

    WirePrecision Precision { get; }

    TransportBytes Bytes { get; }

    /// <summary>The parameters the node's models compute with: a shard that has arrived finds its step's here.</summary>
    IReadOnlyList<(string Name, Tensor Tensor)> Parameters { get; }

    /// <summary>
    /// Blocks for the coordinator's next frame (one reader thread): a <see cref="ShardFrame"/>, an
    /// <see cref="ArrivedRound"/> (its parameters in <see cref="Parameters"/>) or a <see cref="ByeFrame"/>. A shard
    /// is handed to <paramref name="onShard"/>, when given, as soon as its header is read, with how its step's
    /// parameters are arriving (over TCP they follow tensor by tensor, and Receive returns once all are in place).
    /// </summary>
    IWireMessage Receive(Action<ShardFrame, ParameterArrival>? onShard = null);

    /// <summary>Sends a round's parameter change, and the inner optimizer state when asked for (from one thread at a time).</summary>
    void SendRoundResult(RoundResultFrame header, IReadOnlyList<Tensor> change, InnerOptimizerState? inner);

    /// <summary>Sends a shard's gradient (from one thread at a time).</summary>
    void SendGradient(GradientFrame header, IReadOnlyList<Tensor> gradient);

    void SendFailure(ShardFailedFrame failure);
}

/// <summary>What a node answered to a shard.</summary>
public abstract record NodeAnswer;

public sealed record GradientAnswer(GradientFrame Header, GradientSum Gradient, bool Finite) : NodeAnswer;

public sealed record FailureAnswer(ShardFailedFrame Failure) : NodeAnswer;

/// <summary>A node's round: its change, and its inner optimizer state when the round asked for it; the caller owns the tensors.</summary>
public sealed record RoundAnswer(RoundResultFrame Header, GradientSum Change, InnerOptimizerState? Inner, bool Finite) : NodeAnswer;

/// <summary>The inner moments of a round's answer whose change was handed out before them; the caller owns them.</summary>
public sealed record RoundInnerAnswer(RoundResultFrame Header, InnerOptimizerState Inner) : NodeAnswer;

/// <summary>A round as a node receives it: the frame, and the inner state to start from when it loads one (the receiver owns it).</summary>
public sealed record ArrivedRound(RoundFrame Header, InnerOptimizerState? Inner) : IWireMessage
{
    public FrameKind Kind => FrameKind.Round;
    public void Write(BinaryWriter writer) => Header.Write(writer);
}

/// <summary>Bytes moved by one transport, counted where they leave and enter it.</summary>
public readonly record struct TransportBytes(long Sent, long Received);
