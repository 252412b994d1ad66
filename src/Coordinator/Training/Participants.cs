using Akka.Actor;

namespace VaeCluster.Coordinator.Training;

/// <summary>
/// Who takes part in training (worker nodes, each with some worker actors) and how many shards each holds.
/// A participant takes one shard at a time and cuts it across its own actors; in a deterministic run shards are
/// never cut further, so a participant may hold as many whole shards at once as it has actors.
/// Owned by the coordinator actor; changed on its thread only.
/// </summary>
public sealed class Participants(bool wholeShards)
{
    private readonly Dictionary<IActorRef, (string Id, int Actors, string Host)> members = new();
    private readonly Dictionary<IActorRef, int> held = new();
    /// <summary>Every node that has registered, present or lost since, with its worker actors (by node name).</summary>
    private readonly Dictionary<string, int> seen = new();

    public int Count => members.Count;

    /// <summary>Worker actors in all: what --workers and --min-workers count.</summary>
    public int Actors => members.Values.Sum(m => m.Actors);

    /// <summary>Worker actors that have registered so far, nodes lost since included, each node (by name) counted once.</summary>
    public int ActorsSeen => seen.Values.Sum();

    /// <summary>The worker actors of the named nodes (a step's contributors), each node counted once.</summary>
    public int ActorsOf(IEnumerable<string> nodeIds)
    {
        var named = nodeIds.ToHashSet();
        return members.Values.Where(m => named.Contains(m.Id)).Sum(m => m.Actors);
    }

    public bool Contains(IActorRef participant) => members.ContainsKey(participant);

    public string NameOf(IActorRef? participant) =>
        participant is not null && members.TryGetValue(participant, out var m) ? m.Id : "?";

    /// <summary>The participant's host and actors, for the per-node figures.</summary>
    public (string Host, int Actors) Describe(IActorRef participant) =>
        members.TryGetValue(participant, out var m) ? (m.Host, m.Actors) : ("?", 0);

    /// <summary>Adds or re-adds a participant; one that registers again has dropped whatever it held. False if it was known.</summary>
    public bool Register(IActorRef participant, string id, int actors, string? host)
    {
        bool known = members.ContainsKey(participant);
        members[participant] = (id, Math.Max(1, actors), host ?? "?");
        seen[id] = Math.Max(1, actors);
        held.Remove(participant);
        return !known;
    }

    public bool Remove(IActorRef participant, out string id)
    {
        held.Remove(participant);
        if (members.Remove(participant, out var m))
        {
            id = m.Id;
            return true;
        }
        id = "";
        return false;
    }

    /// <summary>Whether the participant can take one more shard now.</summary>
    public bool HasRoom(IActorRef participant) =>
        members.TryGetValue(participant, out var m) && held.GetValueOrDefault(participant) < (wholeShards ? m.Actors : 1);

    /// <summary>The participants that can take a shard now, with their actor counts, in registration order.</summary>
    public IReadOnlyList<(IActorRef Participant, int Actors)> Free() =>
        members.Where(m => HasRoom(m.Key)).Select(m => (m.Key, m.Value.Actors)).ToList();

    public void Took(IActorRef participant) => held[participant] = held.GetValueOrDefault(participant) + 1;

    /// <summary>The participant answered a shard (current, stale or failed).</summary>
    public void Answered(IActorRef participant)
    {
        if (held.TryGetValue(participant, out int n)) held[participant] = Math.Max(0, n - 1);
    }
}
