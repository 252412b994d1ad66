using VaeCluster.Protocol;
using VaeCluster.Training;
using static TorchSharp.torch;

namespace VaeCluster.DataPlane;

/// <summary>
/// Tensors inside the frames: the parameters after a step's first Shard header, the gradient after its Gradient
/// header, their values encoded by <paramref name="codec"/> (--wire). The coordinator's own tensors stay float32:
/// a bfloat16 gradient is widened into fresh float32 tensors as it arrives, before anything adds it. Parameters go
/// out in <paramref name="turns"/> shared by all of the coordinator's TCP links.
/// </summary>
public sealed class TcpTransportToNode : ITransportToNode
{
    private readonly FrameChannel channel;
    private readonly IReadOnlyList<TensorLayout> layout;
    private readonly PayloadCodec codec;
    private readonly SendTurns turns;

    public TcpTransportToNode(FrameChannel channel, IReadOnlyList<TensorLayout> layout, PayloadCodec codec, SendTurns turns)
    {
        this.channel = channel;
        this.layout = layout;
        this.codec = codec;
        this.turns = turns;
    }

    private long parametersSentFor = -1;

    public string Description => "tensors over TCP";

    public WirePrecision Precision => codec.Precision;

    public TransportBytes Bytes => new(channel.BytesSent, channel.BytesReceived);

    public void SendShard(ShardFrame shard, IReadOnlyList<Tensor> parameters)
    {
        if (parametersSentFor == shard.Step)
        {
            channel.Send(shard);
            return;
        }
        turns.Take(channel, () => channel.Send(shard, parameters, codec));
        parametersSentFor = shard.Step;
    }

    public void SendBye(string reason) => channel.Send(new ByeFrame(reason));

    public void SendRound(RoundFrame round, IReadOnlyList<Tensor> parameters, InnerOptimizerState? inner)
    {
        turns.Take(channel, () => RoundPayload.Send(channel, round, parameters, inner, codec));
        parametersSentFor = -1; // the node's buffer now holds the round's parameters
    }

    public NodeAnswer Receive(Action<GradientFrame> check, Action<RoundResultFrame>? checkRound = null, Action<RoundAnswer>? changeFirst = null)
    {
        var frame = channel.Receive();
        switch (frame.Message)
        {
            case ShardFailedFrame failed:
                if (frame.PayloadBytes != 0) throw new WireError("a ShardFailed frame carries no payload");
                return new FailureAnswer(failed);
            case GradientFrame header:
                check(header);
                return GradientTensors.Receive(header, layout, tensors =>
                {
                    channel.ReceivePayload(frame, tensors, codec);
                    return tensors.All(t => FiniteCheck.AllFinite(TensorChunks.Floats(t, 0, checked((int)t.numel()))));
                });
            case RoundResultFrame round when checkRound is not null:
                checkRound(round);
                return RoundTensors.Receive(round, layout, (change, moments, arrived) =>
                {
                    channel.ReceivePayload(frame, [.. change, .. moments], RoundPayload.Of(round.HasInner, codec), arrived);
                    return null; // checked where the change is handed on
                }, changeFirst);
            default:
                throw new WireError($"a worker may only send Gradient and ShardFailed frames here, got {frame.Message.Kind}");
        }
    }

    public void Dispose() => channel.Dispose();
}
