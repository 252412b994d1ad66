using VaeCluster.Cluster;
using VaeCluster.Protocol;
using static TorchSharp.torch;

namespace VaeCluster.DataPlane;

/// <summary>
/// The worker side of <see cref="SharedMemoryTransportToNode"/>: the node's models compute straight from the
/// parameter region (libtorch maps the file shared), and gradients are written into this node's region.
/// </summary>
public sealed class SharedMemoryTransportToCoordinator(FrameChannel channel, WorkerSharedMemory memory) : ITransportToCoordinator
{
    private readonly Lock gate = new();
    private bool disposed;
    private long answers, parametersOf = -1, regionOut, regionIn;

    public string Description => "tensors through shared memory";

    /// <summary>Shared memory always carries float32: copying costs the same either way, and rounding would only lose.</summary>
    public WirePrecision Precision => WirePrecision.Fp32;

    public TransportBytes Bytes => new(channel.BytesSent + Interlocked.Read(ref regionOut), channel.BytesReceived + Interlocked.Read(ref regionIn));

    public IReadOnlyList<(string Name, Tensor Tensor)> Parameters => memory.Parameters;

    public IWireMessage Receive(Action<ShardFrame, ParameterArrival>? onShard = null)
    {
        var frame = channel.Receive();
        if (frame.Message is RoundFrame round)
        {
            // The models read the round's parameters from the region; the moments to start from, if any, come in the frame.
            Interlocked.Add(ref regionIn, memory.PayloadBytes);
            parametersOf = -1;
            var inner = round.LoadsInner
                ? RoundTensors.ReceiveInner(round.InnerStep, TensorLayout.Of(memory.Parameters), moments => channel.ReceivePayload(frame, moments, PayloadCodec.Fp32))
                : null;
            if (inner is null) channel.ReceivePayload(frame, [], PayloadCodec.Fp32);
            return new ArrivedRound(round, inner);
        }
        if (frame.PayloadBytes != 0) throw new WireError($"a {frame.Message.Kind} frame carries no payload over shared memory");
        if (frame.Message is ShardFrame shard && shard.Step != parametersOf)
        {
            // The models read this step's parameters from the region: they enter here, once per step.
            parametersOf = shard.Step;
            Interlocked.Add(ref regionIn, memory.PayloadBytes);
        }
        if (frame.Message is ShardFrame arrived) onShard?.Invoke(arrived, ParameterArrival.Complete); // in the region already
        return frame.Message;
    }

    public void SendGradient(GradientFrame header, IReadOnlyList<Tensor> gradient)
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            // The coordinator sends a shard only while this node holds fewer than the slots, each after reading an
            // earlier answer: slot n mod slots is free again by the time answer n is written.
            memory.Gradients.Write(gradient, (int)(answers++ % memory.Slots));
        }
        Interlocked.Add(ref regionOut, memory.PayloadBytes);
        channel.Send(header);
    }

    public void SendFailure(ShardFailedFrame failure) => channel.Send(failure);

    /// <summary>The change through this node's gradient region, as a gradient; the moments, if any, inside the frame.</summary>
    public void SendRoundResult(RoundResultFrame header, IReadOnlyList<Tensor> change, InnerOptimizerState? inner)
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            memory.Gradients.Write(change, (int)(answers++ % memory.Slots));
        }
        Interlocked.Add(ref regionOut, memory.PayloadBytes);
        channel.Send(header, RoundTensors.Moments(inner), PayloadCodec.Fp32);
    }

    public void Dispose()
    {
        channel.Dispose();
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
            memory.Dispose();
        }
    }
}

/// <summary>
/// The regions a worker node opened from a <see cref="SharedMemoryOffer"/>: it can only when it runs on the
/// coordinator's machine (the files are there and hold the coordinator's cookie).
/// </summary>
public sealed class WorkerSharedMemory : IDisposable
{
    private readonly SharedTensorRegion parameterRegion;

    private WorkerSharedMemory(SharedTensorRegion parameterRegion, SharedTensorRegion gradients, int slots, IReadOnlyList<TensorLayout> layout)
    {
        this.parameterRegion = parameterRegion;
        Gradients = gradients;
        Slots = slots;
        PayloadBytes = TensorLayout.PayloadBytes(layout);
        Parameters = layout.Zip(parameterRegion.MapTensors(layout), (l, t) => (l.Name, t)).ToList();
    }

    /// <summary>Tensors that live in the parameter region itself.</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> Parameters { get; }
    public SharedTensorRegion Gradients { get; }
    public int Slots { get; }
    public long PayloadBytes { get; }

    /// <summary>The offered regions, or null when this node cannot open them (another machine) or none were offered.</summary>
    public static WorkerSharedMemory? TryOpen(SharedMemoryOffer? offer, IReadOnlyList<TensorLayout> layout)
    {
        if (offer is null) return null;
        long bytes = TensorLayout.PayloadBytes(layout);
        int slots = Math.Max(1, offer.GradientSlots);
        var parameters = SharedTensorRegion.TryOpen(offer.ParametersPath, bytes, offer.Cookie);
        if (parameters is null) return null;
        var gradients = SharedTensorRegion.TryOpen(offer.GradientPath, slots * bytes, offer.Cookie);
        if (gradients is null)
        {
            parameters.Dispose();
            return null;
        }
        return new WorkerSharedMemory(parameters, gradients, slots, layout);
    }

    public void Dispose()
    {
        foreach (var (_, t) in Parameters) t.Dispose();
        Gradients.Dispose();
        parameterRegion.Dispose();
    }
}
