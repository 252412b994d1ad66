using VaeCluster.Checkpoints;
using VaeCluster.Protocol;

namespace VaeCluster.Coordinator.Training.Rounds;

/// <summary>
/// A checkpoint of a round boundary whose nodes' inner states are still on their way (--sync-every above 1, over
/// TCP): the coordinator applied the round as soon as every change was in and trains on, holding a copy of the state
/// at the boundary until each awaited slot's inner state has arrived. Owned by the coordinator's thread.
/// </summary>
public sealed class PendingInnerCheckpoint : IDisposable
{
    private readonly HashSet<int> awaited;
    private readonly List<(int Slot, InnerOptimizerState State)> arrived;
    private Checkpoint? awaiting;

    /// <param name="awaiting">Copies of the state at the boundary (TrainingState.CaptureAwaitingInner); owned from here on.</param>
    /// <param name="alreadyIn">Slots whose inner state came with their change; owned from here on.</param>
    public PendingInnerCheckpoint(long round, long step, Checkpoint awaiting, IEnumerable<int> awaitedSlots,
        IEnumerable<(int Slot, InnerOptimizerState State)> alreadyIn)
    {
        Round = round;
        Step = step;
        this.awaiting = awaiting;
        awaited = [.. awaitedSlots];
        arrived = [.. alreadyIn];
    }

    /// <summary>The round whose end this checkpoint is of.</summary>
    public long Round { get; }

    /// <summary>The global step of the boundary: where a resume from this checkpoint starts.</summary>
    public long Step { get; }

    public bool Complete => awaited.Count == 0;

    /// <summary>The slots still awaited, for a log line.</summary>
    public IReadOnlyCollection<int> Awaited => awaited;

    /// <summary>Takes the slot's inner state if it is awaited here (else false, and the caller keeps it).</summary>
    public bool TryAdd(int slot, InnerOptimizerState state)
    {
        if (!awaited.Remove(slot)) return false;
        arrived.Add((slot, state));
        return true;
    }

    /// <summary>Once complete: the boundary's state and every slot's inner state, in slot order; both the caller's now.</summary>
    public (Checkpoint Awaiting, IReadOnlyList<(int Slot, InnerOptimizerState State)> Inner) Take()
    {
        if (!Complete || awaiting is null) throw new InvalidOperationException("the checkpoint still awaits inner states");
        var taken = (awaiting, (IReadOnlyList<(int, InnerOptimizerState)>)arrived.OrderBy(s => s.Slot).ToList());
        awaiting = null;
        arrived.Clear();
        return taken;
    }

    /// <summary>Releases what is held (a checkpoint given up: a newer one is due, or the run ends first).</summary>
    public void Dispose()
    {
        awaiting?.DisposeTensors();
        awaiting = null;
        foreach (var (_, s) in arrived) s.Dispose();
        arrived.Clear();
    }
}
