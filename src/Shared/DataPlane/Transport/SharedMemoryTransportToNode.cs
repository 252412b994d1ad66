using VaeCluster.Protocol;
using static TorchSharp.torch;

namespace VaeCluster.DataPlane;

/// <summary>
/// Tensors through /dev/shm for a node on the coordinator's machine: the parameters are published once per step
/// into the run's region, which the node's models map; gradients come back through the node's own region, whose
/// slot n holds answer n mod slots (see docs/WIRE_FORMAT.md); the frames carry no payload.
/// </summary>
public sealed class SharedMemoryTransportToNode(
    FrameChannel channel, IReadOnlyList<TensorLayout> layout, ParameterPublisher parameters, SharedTensorRegion gradients, int slots) : ITransportToNode
{
    private readonly long payloadBytes = TensorLayout.PayloadBytes(layout);
    private readonly Lock gate = new();
    private bool disposed;
    private long parametersSentFor = -1, answers, regionOut, regionIn;

    public string Description => "tensors through shared memory";

    /// <summary>Shared memory always carries float32: copying costs the same either way, and rounding would only lose.</summary>
    public WirePrecision Precision => WirePrecision.Fp32;

    public TransportBytes Bytes => new(channel.BytesSent + Interlocked.Read(ref regionOut), channel.BytesReceived + Interlocked.Read(ref regionIn));

    public void SendShard(ShardFrame shard, IReadOnlyList<Tensor> stepParameters)
    {
        parameters.Publish(shard.Step, stepParameters);
        if (parametersSentFor != shard.Step) Interlocked.Add(ref regionOut, payloadBytes);
        parametersSentFor = shard.Step;
        channel.Send(shard);
    }

    public void SendBye(string reason) => channel.Send(new ByeFrame(reason));

    /// <summary>The parameters through the region, as a shard's; the moments to start from, if any, inside the frame.</summary>
    public void SendRound(RoundFrame round, IReadOnlyList<Tensor> roundParameters, InnerOptimizerState? inner)
    {
        parameters.Publish(round.Round, roundParameters);
        if (parametersSentFor != round.Round) Interlocked.Add(ref regionOut, payloadBytes);
        parametersSentFor = round.Round;
        channel.Send(round, RoundTensors.Moments(inner), PayloadCodec.Fp32);
    }

    /// <summary>The change and the moments arrive together here (the change through the region): no change goes first.</summary>
    public NodeAnswer Receive(Action<GradientFrame> check, Action<RoundResultFrame>? checkRound = null, Action<RoundAnswer>? changeFirst = null)
    {
        var frame = channel.Receive();
        if (frame.Message is RoundResultFrame round && checkRound is not null)
        {
            checkRound(round);
            return RoundTensors.Receive(round, layout, (change, moments, _) =>
            {
                bool finite;
                lock (gate)
                {
                    ObjectDisposedException.ThrowIf(disposed, this);
                    finite = gradients.ReadChecked(change, (int)(answers++ % slots));
                }
                Interlocked.Add(ref regionIn, payloadBytes);
                channel.ReceivePayload(frame, moments, PayloadCodec.Fp32);
                return finite;
            });
        }
        if (frame.PayloadBytes != 0) throw new WireError($"a shared-memory worker sent a payload over the socket ({frame.Message.Kind})");
        switch (frame.Message)
        {
            case ShardFailedFrame failed:
                return new FailureAnswer(failed);
            case GradientFrame header:
                check(header);
                return GradientTensors.Receive(header, layout, tensors =>
                {
                    bool finite;
                    lock (gate)
                    {
                        ObjectDisposedException.ThrowIf(disposed, this);
                        finite = gradients.ReadChecked(tensors, (int)(answers++ % slots));
                    }
                    Interlocked.Add(ref regionIn, payloadBytes);
                    return finite;
                });
            default:
                throw new WireError($"a worker may only send Gradient and ShardFailed frames here, got {frame.Message.Kind}");
        }
    }

    /// <summary>Closes the connection (ending a blocked reader), then unmaps the gradient region once no read is under way.</summary>
    public void Dispose()
    {
        channel.Dispose();
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
            gradients.Dispose();
        }
    }
}
