using VaeCluster.Coordinator.Training.Rounds;
using VaeCluster.Protocol;
using VaeCluster.Tests.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Training;

/// <summary>A round boundary's checkpoint waiting for the inner states that follow the nodes' changes.</summary>
public sealed class PendingInnerCheckpointTests
{
    private static InnerOptimizerState Inner(long step) => new(step, [randn(3)], [rand(3)]);

    [Fact]
    public void Should_complete_once_every_awaited_slot_is_in_and_hand_over_all_states_in_slot_order()
    {
        var inline = Inner(5);
        using var pending = new PendingInnerCheckpoint(round: 32, step: 48, CheckpointSamples.Make(48), awaitedSlots: [2, 0], alreadyIn: [(1, inline)]);
        Assert.False(pending.Complete);
        Assert.Throws<InvalidOperationException>(() => pending.Take());

        using var stranger = Inner(5);
        Assert.False(pending.TryAdd(1, stranger)); // slot 1 came with its change: not awaited
        Assert.True(pending.TryAdd(2, Inner(5)));
        Assert.False(pending.TryAdd(2, stranger)); // a duplicate
        Assert.Equal([0], pending.Awaited);
        Assert.True(pending.TryAdd(0, Inner(5)));
        Assert.True(pending.Complete);

        var (awaiting, inner) = pending.Take();
        Assert.Equal(48, awaiting.Cursor.GlobalStep);
        Assert.Equal([0, 1, 2], inner.Select(s => s.Slot));
        Assert.Same(inline, inner[1].State);
        awaiting.DisposeTensors();
        foreach (var (_, s) in inner) s.Dispose();
    }

    [Fact]
    public void Should_release_what_it_holds_when_given_up()
    {
        var checkpoint = CheckpointSamples.Make(16);
        var arrived = Inner(3);
        var pending = new PendingInnerCheckpoint(round: 0, step: 16, checkpoint, awaitedSlots: [0, 1], alreadyIn: []);
        Assert.True(pending.TryAdd(0, arrived));
        pending.Dispose();
        Assert.Throws<InvalidOperationException>(() => arrived.ExpAvg[0].sum());
        Assert.Throws<InvalidOperationException>(() => checkpoint.Parameters[0].Tensor.sum());
    }
}
