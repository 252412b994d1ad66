using VaeCluster.Protocol;

namespace VaeCluster.Coordinator.Training.Rounds;

/// <summary>
/// The nodes' inner Adam states as the coordinator last received them, one per round slot, and the global step they
/// belong to. Nodes keep their live state themselves; they send it only after a round the coordinator checkpoints
/// after, so a checkpoint holds every slot's state at exactly its step, and a resumed run hands each slot's state to
/// the node that takes the slot. Owned by the coordinator's thread (through TrainingState).
/// </summary>
public sealed class InnerStates : IDisposable
{
    private readonly SortedDictionary<int, InnerOptimizerState> bySlot = new();

    /// <summary>The global step the states belong to; -1 when there are none.</summary>
    public long At { get; private set; } = -1;

    public IReadOnlyDictionary<int, InnerOptimizerState> BySlot => bySlot;

    /// <summary>Whether the states are those of the round boundary at <paramref name="globalStep"/>.</summary>
    public bool CurrentAt(long globalStep) => At == globalStep;

    /// <summary>Replaces every state with the ones given (a round's, or a checkpoint's); takes ownership of them.</summary>
    public void Replace(long globalStep, IEnumerable<(int Slot, InnerOptimizerState State)> states)
    {
        Clear();
        foreach (var (slot, state) in states) bySlot[slot] = state;
        At = globalStep;
    }

    /// <summary>A copy of the slot's state for a node to start from, if the states are current at <paramref name="globalStep"/>.</summary>
    public InnerOptimizerState? CopyFor(int slot, long globalStep) =>
        CurrentAt(globalStep) && bySlot.TryGetValue(slot, out var state) ? state.Copy() : null;

    private void Clear()
    {
        foreach (var s in bySlot.Values) s.Dispose();
        bySlot.Clear();
        At = -1;
    }

    public void Dispose() => Clear();
}
