using VaeCluster.Cluster;
using VaeCluster.DataPlane;
using VaeCluster.Protocol;
using VaeCluster.Training;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.DataPlane;

/// <summary>
/// What every data-plane transport promises, run against each (TCP, shared memory): the coordinator's end sends a
/// shard with its step's parameters and receives answers; the node's end receives shards with the parameters in
/// place and sends answers. Same cases, same assertions, whatever moves the bytes and however values are encoded:
/// with --wire bf16 what arrives is each value rounded to bfloat16 (libtorch's own conversion is the reference here),
/// in half the bytes.
/// </summary>
public abstract class TransportContract : IDisposable
{
    protected static readonly IReadOnlyList<TensorLayout> Layout = [new("w", [200, 100]), new("b", [200])];
    protected static readonly long PayloadBytes = TensorLayout.PayloadBytes(Layout);
    /// <summary>How values travel; every transport but TCP carries them as float32.</summary>
    protected virtual PayloadCodec Codec => PayloadCodec.Fp32;
    private long WireBytes => Codec.PayloadBytes(Layout);
    private readonly LoopbackPair pair = new();
    private readonly List<Tensor> master = Layout.Select(t => randn(t.Shape)).ToList();
    private ITransportToNode node = null!;
    private ITransportToCoordinator coordinator = null!;

    /// <summary>Builds both ends over a connected pair of channels; a node may hold <paramref name="slots"/> answers unread.</summary>
    protected abstract (ITransportToNode Node, ITransportToCoordinator Coordinator) Connect(FrameChannel coordinatorEnd, FrameChannel nodeEnd, int slots);

    private void Open(int slots = 1)
    {
        var coordinatorEnd = new FrameChannel(pair.Left);
        var nodeEnd = new FrameChannel(pair.Right);
        coordinatorEnd.SetReceiveTimeout(TimeSpan.FromSeconds(5));
        nodeEnd.SetReceiveTimeout(TimeSpan.FromSeconds(5));
        (node, coordinator) = Connect(coordinatorEnd, nodeEnd, slots);
    }

    private static ShardFrame Shard(long step, int index) => new(step, index, Latent: 2, SampleIndices: [index, index + 1], Noise: [1, 2, 3, 4], Whole: index % 2 == 1);

    protected static string Digest(IEnumerable<Tensor> tensors) => ParameterDigest.Sha256(tensors);

    /// <summary>The digest of the tensors as they must arrive: themselves, or rounded to bfloat16 and widened back.</summary>
    private string Travelled(IEnumerable<Tensor> tensors)
    {
        if (Codec.Precision == WirePrecision.Fp32) return Digest(tensors);
        var rounded = tensors.Select(t => t.to(ScalarType.BFloat16).to(ScalarType.Float32)).ToList();
        try { return Digest(rounded); }
        finally { foreach (var t in rounded) t.Dispose(); }
    }

    protected static void NoCheck(GradientFrame _) { }

    [Fact]
    public void Should_deliver_a_shard_with_its_steps_parameters_in_place()
    {
        Open();
        node.SendShard(Shard(step: 3, index: 1), master);
        Assert.Equal(Shard(3, 1) with { }, Assert.IsType<ShardFrame>(coordinator.Receive()), ShardComparer.Instance);
        Assert.Equal(Travelled(master), Digest(coordinator.Parameters.Select(p => p.Tensor)));
    }

    [Fact]
    public void Should_hand_a_shard_on_when_its_header_is_read_and_have_its_parameters_in_place_when_receive_returns()
    {
        Open();
        node.SendShard(Shard(step: 3, index: 1), master);
        ShardFrame? early = null;
        ParameterArrival? arrival = null;
        var shard = coordinator.Receive(onShard: (s, a) => (early, arrival) = (s, a));
        Assert.Same(shard, early);
        arrival!.WaitForAll(); // at once: Receive returned
        Assert.Equal(Travelled(master), Digest(coordinator.Parameters.Select(p => p.Tensor)));
    }

    [Fact]
    public void Should_move_the_parameters_once_per_step_however_many_shards_of_it_a_node_holds()
    {
        Open(slots: 2);
        var before = node.Bytes;
        node.SendShard(Shard(step: 0, index: 0), master);
        node.SendShard(Shard(step: 0, index: 1), master);
        coordinator.Receive();
        coordinator.Receive();
        long firstStep = node.Bytes.Sent - before.Sent;
        Assert.InRange(firstStep, WireBytes, WireBytes + 1024);
        Assert.InRange(coordinator.Bytes.Received, WireBytes, WireBytes + 1024);

        foreach (var t in master) t.add_(1f); // the next step's parameters
        node.SendShard(Shard(step: 1, index: 0), master);
        coordinator.Receive();
        Assert.InRange(node.Bytes.Sent - before.Sent - firstStep, WireBytes, WireBytes + 1024);
        Assert.Equal(Travelled(master), Digest(coordinator.Parameters.Select(p => p.Tensor)));
    }

    [Fact]
    public void Should_carry_a_round_with_the_inner_state_to_load_and_bring_its_change_and_inner_state_back_exactly()
    {
        Open();
        using var load = new InnerOptimizerState(7, Layout.Select(t => randn(t.Shape)).ToList(), Layout.Select(t => rand(t.Shape)).ToList());
        ShardFrame[] steps = [Shard(4, 0), Shard(5, 2) with { Whole = false }];
        node.SendRound(new RoundFrame(4, 1, 2, 1e-3, (byte)InnerStartKind.Load, 7, ReturnInner: true, steps), master, load);

        var arrived = Assert.IsType<ArrivedRound>(coordinator.Receive());
        Assert.Equal((4L, 1, 2), (arrived.Header.Round, arrived.Header.Slot, arrived.Header.Steps.Count));
        Assert.Equal(steps[1].SampleIndices, arrived.Header.Steps[1].SampleIndices);
        Assert.Equal(steps[1].Noise, arrived.Header.Steps[1].Noise);
        // The parameters as the wire carries them (rounded under bf16, though a frame with moments travels as float32); the moments exactly.
        Assert.Equal(Travelled(master), Digest(coordinator.Parameters.Select(p => p.Tensor)));
        using (var inner = arrived.Inner!)
        {
            Assert.Equal(7, inner.Step);
            Assert.Equal(Digest([.. load.ExpAvg, .. load.ExpAvgSq]), Digest([.. inner.ExpAvg, .. inner.ExpAvgSq]));
        }

        var change = Layout.Select(t => randn(t.Shape)).ToList();
        coordinator.SendRoundResult(new RoundResultFrame(4, 1, [new(4, 2, 10.5), new(5, 2, double.NaN)], 99, HasInner: true, InnerStep: 9), change, load);
        var answer = Assert.IsType<RoundAnswer>(node.Receive(NoCheck, _ => { }));
        Assert.Equal([4L, 5L], answer.Header.Steps.Select(s => s.Step));
        Assert.True(double.IsNaN(answer.Header.Steps[1].LossSum));
        Assert.True(answer.Finite);
        Assert.Equal(Travelled(change), Digest(answer.Change.Tensors));
        Assert.Equal(9, answer.Inner!.Step);
        Assert.Equal(Digest([.. load.ExpAvg, .. load.ExpAvgSq]), Digest([.. answer.Inner.ExpAvg, .. answer.Inner.ExpAvgSq]));
        answer.Change.Dispose();
        answer.Inner.Dispose();
    }

    [Fact]
    public void Should_bring_a_gradient_back_exactly_and_say_whether_it_is_finite()
    {
        Open();
        node.SendShard(Shard(0, 0), master);
        coordinator.Receive();
        var gradient = Layout.Select(t => randn(t.Shape)).ToList();
        coordinator.SendGradient(new GradientFrame(0, 0, 2, LossSum: 321.5, ComputeMicros: 77), gradient);
        var answer = Assert.IsType<GradientAnswer>(node.Receive(NoCheck));
        Assert.Equal(new GradientFrame(0, 0, 2, 321.5, 77), answer.Header);
        Assert.True(answer.Finite);
        Assert.Equal(Travelled(gradient), Digest(answer.Gradient.Tensors));
        answer.Gradient.Dispose();

        node.SendShard(Shard(1, 0), master);
        coordinator.Receive();
        gradient[1][7] = float.NaN;
        coordinator.SendGradient(new GradientFrame(1, 0, 2, 1, 0), gradient);
        var poisoned = Assert.IsType<GradientAnswer>(node.Receive(NoCheck));
        Assert.False(poisoned.Finite);
        poisoned.Gradient.Dispose();
        Assert.InRange(coordinator.Bytes.Sent, 2 * WireBytes, 2 * WireBytes + 1024);
    }

    [Fact]
    public void Should_bring_back_answers_sent_before_any_is_read_each_exactly_and_in_order()
    {
        Open(slots: 2);
        node.SendShard(Shard(0, 0), master);
        node.SendShard(Shard(0, 1), master);
        coordinator.Receive();
        coordinator.Receive();
        var first = Layout.Select(t => randn(t.Shape)).ToList();
        var second = Layout.Select(t => randn(t.Shape)).ToList();
        coordinator.SendGradient(new GradientFrame(0, 1, 2, 1, 0), first);
        coordinator.SendGradient(new GradientFrame(0, 0, 2, 2, 0), second);
        foreach (var (expected, shard) in new[] { (first, 1), (second, 0) })
        {
            var answer = Assert.IsType<GradientAnswer>(node.Receive(NoCheck));
            Assert.Equal(shard, answer.Header.ShardIndex);
            Assert.Equal(Travelled(expected), Digest(answer.Gradient.Tensors));
            answer.Gradient.Dispose();
        }
    }

    [Fact]
    public void Should_let_the_coordinator_refuse_a_gradient_on_its_header()
    {
        Open();
        node.SendShard(Shard(0, 0), master);
        coordinator.Receive();
        coordinator.SendGradient(new GradientFrame(9, 0, 2, 1, 0), Layout.Select(t => zeros(t.Shape)).ToList());
        var error = Assert.Throws<WireError>(() => node.Receive(header => throw new WireError($"step {header.Step} is not outstanding")));
        Assert.Contains("step 9", error.Message);
    }

    [Fact]
    public void Should_carry_a_failure_and_a_bye()
    {
        Open();
        node.SendShard(Shard(0, 0), master);
        coordinator.Receive();
        coordinator.SendFailure(new ShardFailedFrame(0, 0, "binary cross-entropy refused NaN"));
        Assert.Equal(new ShardFailedFrame(0, 0, "binary cross-entropy refused NaN"), Assert.IsType<FailureAnswer>(node.Receive(NoCheck)).Failure);
        node.SendBye("training finished");
        Assert.Equal("training finished", Assert.IsType<ByeFrame>(coordinator.Receive()).Reason);
    }

    public virtual void Dispose()
    {
        node?.Dispose();
        coordinator?.Dispose();
        pair.Dispose();
        foreach (var t in master) t.Dispose();
    }

    private sealed class ShardComparer : IEqualityComparer<ShardFrame>
    {
        public static readonly ShardComparer Instance = new();
        public bool Equals(ShardFrame? a, ShardFrame? b) =>
            a is not null && b is not null && (a.Step, a.ShardIndex, a.Latent, a.Whole) == (b.Step, b.ShardIndex, b.Latent, b.Whole)
            && a.SampleIndices.SequenceEqual(b.SampleIndices) && a.Noise.SequenceEqual(b.Noise);
        public int GetHashCode(ShardFrame f) => f.Step.GetHashCode();
    }
}

public class TcpTransportContract : TransportContract
{
    protected override (ITransportToNode, ITransportToCoordinator) Connect(FrameChannel coordinatorEnd, FrameChannel nodeEnd, int slots) =>
        (new TcpTransportToNode(coordinatorEnd, Layout, Codec, new SendTurns()), new TcpTransportToCoordinator(nodeEnd, Layout.Select(t => (t.Name, zeros(t.Shape))).ToList(), Codec));

    [Fact]
    public async Task Should_let_workers_start_on_the_first_tensors_while_the_rest_are_still_on_the_wire()
    {
        using var pair = new LoopbackPair();
        using var nodeEnd = new FrameChannel(pair.Right);
        using var worker = new TcpTransportToCoordinator(nodeEnd, Layout.Select(t => (t.Name, zeros(t.Shape))).ToList(), PayloadCodec.Fp32);
        var weight = MemoryMarshalBytes(full(Layout[0].Shape, 2f));
        var bias = MemoryMarshalBytes(full(Layout[1].Shape, 3f));
        // The coordinator's frame, written by hand: header and the first tensor now, the second later.
        pair.Left.Send(RawPeer.Frame(new ShardFrame(0, 0, 1, [0], [0f]), payloadBytes: weight.Length + bias.Length).Concat(weight).ToArray());

        using var handedOn = new SemaphoreSlim(0);
        ParameterArrival? arrival = null;
        var receiving = Task.Run(() => worker.Receive(onShard: (_, a) => { arrival = a; handedOn.Release(); }));
        Assert.True(await handedOn.WaitAsync(TimeSpan.FromSeconds(10)), "the shard was not handed on before its parameters were in");
        await Task.Run(() => arrival!.WaitFor(1)).WaitAsync(TimeSpan.FromSeconds(10)); // the weight is in
        var second = Task.Run(() => arrival!.WaitFor(2));
        await Task.Delay(200);
        Assert.False(second.IsCompleted); // the bias is not
        Assert.False(receiving.IsCompleted);

        pair.Left.Send(bias);
        await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.IsType<ShardFrame>(await receiving.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(3f, worker.Parameters[1].Tensor[0].item<float>());
    }

    [Fact]
    public async Task Should_hand_a_rounds_change_on_before_its_inner_moments_have_arrived()
    {
        using var pair = new LoopbackPair();
        using var coordinatorEnd = new FrameChannel(pair.Left);
        using var link = new TcpTransportToNode(coordinatorEnd, Layout, PayloadCodec.Fp32, new SendTurns());
        var change = Layout.Select(t => randn(t.Shape)).ToList();
        var moments = Layout.Select(t => rand(t.Shape)).Concat(Layout.Select(t => rand(t.Shape))).ToList();
        var changeBytes = change.SelectMany(MemoryMarshalBytes).ToArray();
        var momentBytes = moments.SelectMany(MemoryMarshalBytes).ToArray();
        // The node's frame, written by hand: header and the change now, the moments later.
        var header = new RoundResultFrame(4, 1, [new(4, 2, 10.5)], 99, HasInner: true, InnerStep: 9);
        pair.Right.Send(RawPeer.Frame(header, payloadBytes: changeBytes.Length + momentBytes.Length).Concat(changeBytes).ToArray());

        using var handedOn = new SemaphoreSlim(0);
        RoundAnswer? first = null;
        string? firstDigest = null;
        var receiving = Task.Run(() => link.Receive(NoCheck, _ => { }, changeFirst: a =>
        {
            // As the coordinator does: applies the change and releases it while the moments are still being read.
            (first, firstDigest) = (a, Digest(a.Change.Tensors));
            a.Change.Dispose();
            handedOn.Release();
        }));
        Assert.True(await handedOn.WaitAsync(TimeSpan.FromSeconds(10)), "the change was not handed on before the moments were in");
        Assert.Null(first!.Inner);
        Assert.True(first.Finite);
        Assert.Equal(Digest(change), firstDigest);
        await Task.Delay(200);
        Assert.False(receiving.IsCompleted); // the moments are not in

        pair.Right.Send(momentBytes);
        var rest = Assert.IsType<RoundInnerAnswer>(await receiving.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal((4L, 1, 9L), (rest.Header.Round, rest.Header.Slot, rest.Inner.Step));
        Assert.Equal(Digest(moments), Digest([.. rest.Inner.ExpAvg, .. rest.Inner.ExpAvgSq]));
        rest.Inner.Dispose();
    }

    private static byte[] MemoryMarshalBytes(Tensor t) => t.bytes.ToArray();
}

/// <summary>--wire bf16: the same promises over TCP, each value rounded to bfloat16 on the way, in half the bytes.</summary>
public sealed class Bf16TcpTransportContract : TcpTransportContract
{
    protected override PayloadCodec Codec => PayloadCodec.Bf16;

    [Fact]
    public void Should_say_it_carries_bf16_and_refuse_a_payload_in_another_encoding()
    {
        using var pair = new LoopbackPair();
        using var coordinatorEnd = new FrameChannel(pair.Left);
        using var nodeEnd = new FrameChannel(pair.Right);
        using var node = new TcpTransportToNode(coordinatorEnd, Layout, PayloadCodec.Bf16, new SendTurns());
        using var worker = new TcpTransportToCoordinator(nodeEnd, Layout.Select(t => (t.Name, zeros(t.Shape))).ToList(), PayloadCodec.Bf16);
        Assert.Equal(WirePrecision.Bf16, node.Precision);
        Assert.Equal(WirePrecision.Bf16, worker.Precision);
        // A peer that sends float32 where bf16 was agreed is refused on the frame's prefix, before a value is read.
        coordinatorEnd.Send(new ShardFrame(0, 0, 1, [0], [0f]), Layout.Select(t => ones(t.Shape)).ToList(), PayloadCodec.Fp32);
        Assert.Contains("payload is fp32, this connection carries bf16", Assert.Throws<WireError>(() => worker.Receive()).Message);
    }
}

public sealed class SharedMemoryTransportContract : TransportContract
{
    private ParameterPublisher? published;

    protected override (ITransportToNode, ITransportToCoordinator) Connect(FrameChannel coordinatorEnd, FrameChannel nodeEnd, int slots)
    {
        string cookie = SharedTensorRegion.NewCookie(), name = $"vaecluster-{Environment.ProcessId}-contract-{Guid.NewGuid():N}";
        published = new ParameterPublisher(SharedTensorRegion.Create($"{name}.params", PayloadBytes, cookie));
        var gradients = SharedTensorRegion.Create($"{name}.grad", slots * PayloadBytes, cookie);
        var opened = WorkerSharedMemory.TryOpen(new SharedMemoryOffer(published.Path, gradients.Path, cookie, slots), Layout)
            ?? throw new InvalidOperationException("could not open the regions just made");
        return (new SharedMemoryTransportToNode(coordinatorEnd, Layout, published, gradients, slots), new SharedMemoryTransportToCoordinator(nodeEnd, opened));
    }

    public override void Dispose()
    {
        base.Dispose();
        published?.Dispose();
    }
}
