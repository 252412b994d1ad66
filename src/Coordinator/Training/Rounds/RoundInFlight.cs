using Akka.Actor;
using VaeCluster.Protocol;
using VaeCluster.Training;

namespace VaeCluster.Coordinator.Training.Rounds;

/// <summary>
/// Bookkeeping for the round being trained (<c>--sync-every</c>): its global batches, each node's part (its shares of
/// them), which parts have answered and which were dropped (their node left or missed the deadline). The first answer
/// for a part wins; a later, stale or duplicate one is refused, so no part is ever applied twice.
/// </summary>
public sealed class RoundInFlight
{
    public sealed class Part(int slot, IActorRef node, string nodeId, ComputeRound message)
    {
        public int Slot { get; } = slot;
        public IActorRef Node { get; } = node;
        public string NodeId { get; } = nodeId;
        /// <summary>What was sent; its inner state, if any, belongs to the node now and is not touched here.</summary>
        public ComputeRound Message { get; } = message;
        public RoundResult? Result { get; set; }
        public string? Dropped { get; set; }
        public long SentAt { get; } = System.Diagnostics.Stopwatch.GetTimestamp();
        public long AnsweredAt { get; set; }
        public bool Done => Result is not null || Dropped is not null;
    }

    private readonly System.Diagnostics.Stopwatch started = System.Diagnostics.Stopwatch.StartNew();

    public RoundInFlight(int epoch, int firstStepInEpoch, IReadOnlyList<GlobalBatch> batches, IReadOnlyList<Part> parts)
    {
        Epoch = epoch;
        FirstStepInEpoch = firstStepInEpoch;
        Batches = batches;
        Parts = parts;
    }

    /// <summary>The round's number: its first global step.</summary>
    public long Round => Batches[0].Step;
    public int Epoch { get; }
    public int FirstStepInEpoch { get; }
    public IReadOnlyList<GlobalBatch> Batches { get; }
    public IReadOnlyList<Part> Parts { get; }
    public long LastStep => Round + Batches.Count - 1;
    public bool IsComplete => Parts.All(p => p.Done);

    /// <summary>Whether some answered part's inner state is still on its way (<see cref="RoundResult.InnerFollows"/>).</summary>
    public bool AwaitsInner => Parts.Any(p => p.Result is { InnerFollows: true });

    /// <summary>Puts an inner state that followed its change into the part's result; false if no part of this round awaits it.</summary>
    public bool TryAttachInner(RoundInnerArrived arrived, IActorRef sender)
    {
        if (arrived.Round != Round) return false;
        var part = Parts.FirstOrDefault(p => p.Slot == arrived.Slot && p.Node.Equals(sender) && p.Result is { InnerFollows: true });
        if (part is null) return false;
        part.Result = part.Result! with { Inner = arrived.Inner, InnerFollows = false };
        return true;
    }

    /// <summary>The node left before its inner state arrived: its slot has none at this boundary (its next node starts afresh).</summary>
    public bool GiveUpInnerOf(IActorRef node)
    {
        var part = Parts.FirstOrDefault(p => p.Node.Equals(node) && p.Result is { InnerFollows: true });
        if (part is null) return false;
        part.Result = part.Result! with { InnerFollows = false };
        return true;
    }
    public TimeSpan Age => started.Elapsed;

    /// <summary>
    /// The parts of a round: each global batch cut across the nodes in slot order, in proportion to their actors
    /// (ShardPlanner, as a synchronous step is cut), node i taking shard i of every batch.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<ComputeShard>> Cut(IReadOnlyList<GlobalBatch> batches, IReadOnlyList<int> actors)
    {
        var shares = actors.Select(_ => new List<ComputeShard>()).ToList();
        foreach (var batch in batches)
            foreach (var shard in ShardPlanner.Cut(batch, actors)) shares[shard.ShardIndex].Add(shard);
        return shares;
    }

    public Part? PartOf(IActorRef node) => Parts.FirstOrDefault(p => !p.Done && p.Node.Equals(node));

    /// <summary>Records a node's answer; false if it is stale, unknown, a duplicate or not the part sent (the caller disposes it).</summary>
    public bool TryRecord(RoundResult result, IActorRef sender)
    {
        if (result.Round != Round) return false;
        var part = Parts.FirstOrDefault(p => p.Slot == result.Slot && p.Node.Equals(sender));
        if (part is null || part.Done) return false;
        var sent = part.Message.Steps;
        if (result.Steps.Count != sent.Count
            || result.Steps.Zip(sent).Any(x => x.First.Step != x.Second.Step || x.First.SampleCount != x.Second.SampleIndices.Length))
            return false;
        part.Result = result;
        part.AnsweredAt = System.Diagnostics.Stopwatch.GetTimestamp();
        return true;
    }

    /// <summary>One global step of the round as it went: who took its shares, which were dropped, its loss and samples learned from.</summary>
    public RoundStep StepAt(int index)
    {
        long step = Batches[index].Step;
        var workers = new List<string>();
        var dropped = new List<int>();
        double loss = 0;
        int samples = 0;
        foreach (var part in Parts)
        {
            var share = part.Message.Steps.FirstOrDefault(s => s.Step == step);
            if (share is null) continue;
            workers.Add(part.NodeId);
            if (part.Result is null)
            {
                dropped.Add(share.ShardIndex);
                continue;
            }
            var answered = part.Result.Steps.First(s => s.Step == step);
            if (!double.IsFinite(answered.LossSum)) continue;
            loss += answered.LossSum;
            samples += answered.SampleCount;
        }
        return new RoundStep(step, FirstStepInEpoch + index, workers, dropped, samples, samples > 0 ? loss : double.NaN);
    }

    /// <summary>Releases the answers of a round that will not be applied.</summary>
    public void DiscardResults()
    {
        foreach (var p in Parts)
        {
            p.Result?.Change.Dispose();
            p.Result?.Inner?.Dispose();
        }
    }
}

public sealed record RoundStep(long Step, int StepInEpoch, IReadOnlyList<string> Workers, IReadOnlyList<int> DroppedShards, int Samples, double LossSum);
