using VaeCluster.Protocol;
using static TorchSharp.torch;

namespace VaeCluster.DataPlane;

/// <summary>
/// The worker side of <see cref="TcpTransportToNode"/>: a step's parameters are read straight into the buffer the
/// node's models share, which is free then (the node computes nothing of an earlier step that still counts). Values
/// travel as <paramref name="codec"/> says (the coordinator's --wire); the buffer and the gradients stay float32.
/// </summary>
public sealed class TcpTransportToCoordinator(FrameChannel channel, IReadOnlyList<(string Name, Tensor Tensor)> parameterBuffer, PayloadCodec codec)
    : ITransportToCoordinator
{
    private readonly IReadOnlyList<Tensor> parameters = parameterBuffer.Select(p => p.Tensor).ToList();
    private long parametersOf = -1;

    public string Description => "tensors over TCP";

    public WirePrecision Precision => codec.Precision;

    public TransportBytes Bytes => new(channel.BytesSent, channel.BytesReceived);

    public IReadOnlyList<(string Name, Tensor Tensor)> Parameters => parameterBuffer;

    public IWireMessage Receive(Action<ShardFrame, ParameterArrival>? onShard = null)
    {
        var frame = channel.Receive();
        if (frame.Message is ShardFrame shard)
        {
            if (frame.PayloadBytes != 0)
            {
                parametersOf = -1; // the buffer is being overwritten
                var arrival = new ParameterArrival(parameters.Count);
                onShard?.Invoke(shard, arrival);
                try { channel.ReceivePayload(frame, parameters, codec, arrival.Have); }
                catch (Exception error)
                {
                    arrival.Fail(error.Message);
                    throw;
                }
                parametersOf = shard.Step;
            }
            else if (parametersOf != shard.Step)
                throw new WireError($"a shard of step {shard.Step} came without parameters, and none of that step came before");
            else
                onShard?.Invoke(shard, ParameterArrival.Complete);
            return shard;
        }
        if (frame.Message is RoundFrame round)
        {
            // The round's parameters land in the buffer the models share, the moments to start from (if any) in tensors of their own.
            var layout = TensorLayout.Of(parameterBuffer);
            var inner = round.LoadsInner
                ? RoundTensors.ReceiveInner(round.InnerStep, layout, moments => channel.ReceivePayload(frame, [.. parameters, .. moments], PayloadCodec.Fp32))
                : null;
            if (inner is null) channel.ReceivePayload(frame, parameters, codec);
            parametersOf = -1;
            return new ArrivedRound(round, inner);
        }
        if (frame.PayloadBytes != 0) throw new WireError($"a {frame.Message.Kind} frame carries no payload");
        return frame.Message;
    }

    public void SendRoundResult(RoundResultFrame header, IReadOnlyList<Tensor> change, InnerOptimizerState? inner) =>
        RoundPayload.Send(channel, header, change, inner, codec);

    public void SendGradient(GradientFrame header, IReadOnlyList<Tensor> gradient) => channel.Send(header, gradient, codec);

    public void SendFailure(ShardFailedFrame failure) => channel.Send(failure);

    public void Dispose() => channel.Dispose();
}
