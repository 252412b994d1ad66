using Akka.Actor;
using VaeCluster.Protocol;

namespace VaeCluster.Coordinator.Training.Rounds;

/// <summary>
/// Which node holds which round slot, and which node holds each slot's live inner optimizer state. A node keeps its
/// slot from round to round (so its inner Adam keeps seeing the same share of the data, as a DiLoCo worker does);
/// a node new to the rounds takes the lowest slot no present node holds. The layout, in slot order, is the order in
/// which each global batch is cut. Owned by the coordinator actor; changed on its thread only.
/// </summary>
public sealed class RoundLayout
{
    private readonly Dictionary<IActorRef, int> slotOf = new();
    private readonly Dictionary<int, IActorRef> holderOf = new();

    /// <summary>The free nodes of a round, each with its slot, in slot order.</summary>
    public IReadOnlyList<(int Slot, IActorRef Node, int Actors)> Assign(IReadOnlyList<(IActorRef Participant, int Actors)> free)
    {
        foreach (var (node, _) in free)
        {
            if (slotOf.ContainsKey(node)) continue;
            var taken = slotOf.Values.ToHashSet();
            slotOf[node] = Enumerable.Range(0, int.MaxValue).First(s => !taken.Contains(s));
        }
        return free.Select(f => (slotOf[f.Participant], f.Participant, f.Actors)).OrderBy(a => a.Item1).ToList();
    }

    /// <summary>
    /// How the slot's node starts its inner Adam: with its own state if it ran the slot's last round, else from the
    /// coordinator's copy if that is current, else afresh (the state was lost with its node). The node holds it next.
    /// </summary>
    public InnerStart StartFor(int slot, IActorRef node, InnerStates saved, long globalStep, out bool fresh)
    {
        fresh = false;
        bool holds = holderOf.TryGetValue(slot, out var holder) && holder.Equals(node);
        holderOf[slot] = node;
        if (holds) return InnerStart.Keep;
        if (saved.CopyFor(slot, globalStep) is { } copy) return new InnerStart(InnerStartKind.Load, copy);
        fresh = true;
        return InnerStart.Fresh;
    }

    /// <summary>The node left or registered again: its slot is free, and the slot's live state is gone with it.</summary>
    public void Forget(IActorRef node)
    {
        if (slotOf.Remove(node, out int slot)) Lost(slot);
    }

    /// <summary>A round was skipped (its average not finite): every node's inner state starts afresh, none is trusted.</summary>
    public void Reset() => holderOf.Clear();

    /// <summary>The slot's round was dropped: the state its node holds is no longer the slot's.</summary>
    public void Lost(int slot) => holderOf.Remove(slot);
}
