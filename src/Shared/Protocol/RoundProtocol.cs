using static TorchSharp.torch;

namespace VaeCluster.Protocol;

/// <summary>
/// Low-communication training (<c>--sync-every H</c>, DiLoCo): a worker node takes H local Adam steps on its
/// shares of H consecutive global batches, starting from the coordinator's parameters, and answers the change
/// (start minus end). Tensors inside these messages change owner with the message, as in the step protocol.
/// </summary>
/// <param name="Round">The round's number: the global step it starts at.</param>
/// <param name="Slot">The node's place in the round's layout; its inner optimizer state belongs to this slot.</param>
/// <param name="Steps">The node's share of each global batch of the round, in step order (ShardIndex: its shard of that batch).</param>
/// <param name="LearningRate">The inner Adam's learning rate (the run's --lr).</param>
/// <param name="Inner">Which inner optimizer state to start from.</param>
/// <param name="ReturnInner">Answer the inner state after the round too: the coordinator checkpoints after it.</param>
public sealed record ComputeRound(
    long Round, int Slot, IReadOnlyList<ComputeShard> Steps, double LearningRate, InnerStart Inner, bool ReturnInner) : IStepMessage
{
    public int SampleCount => Steps.Sum(s => s.SampleIndices.Length);
}

public enum InnerStartKind : byte
{
    /// <summary>Go on with the inner state this node holds for the slot (it ran the slot's previous round).</summary>
    Keep = 0,
    /// <summary>Start a fresh Adam (step 0, zero moments): the slot is new, or its state was lost with its node.</summary>
    Fresh = 1,
    /// <summary>Start from <see cref="InnerStart.State"/> (after a resume, or when the slot changed nodes at a checkpoint).</summary>
    Load = 2,
}

public sealed record InnerStart(InnerStartKind Kind, InnerOptimizerState? State = null)
{
    public static readonly InnerStart Keep = new(InnerStartKind.Keep);
    public static readonly InnerStart Fresh = new(InnerStartKind.Fresh);
}

/// <summary>An inner Adam's state: its step count and moments, in parameter order. Whoever holds it disposes it.</summary>
public sealed record InnerOptimizerState(long Step, IReadOnlyList<Tensor> ExpAvg, IReadOnlyList<Tensor> ExpAvgSq) : IDisposable
{
    public InnerOptimizerState Copy() => new(Step, ExpAvg.Select(t => t.clone()).ToList(), ExpAvgSq.Select(t => t.clone()).ToList());

    public void Dispose()
    {
        foreach (var t in ExpAvg.Concat(ExpAvgSq)) t.Dispose();
    }
}

/// <summary>
/// A node's round: the change of its parameters (start minus end, the "pseudo-gradient"), and for each of its steps
/// the global step, its samples and their loss sum (NaN where the step could not be computed and was passed over).
/// <paramref name="InnerFollows"/>: the inner state asked for is still on its way and comes as a <see cref="RoundInnerArrived"/>.
/// </summary>
public sealed record RoundResult(
    long Round, int Slot, string WorkerId, GradientSum Change, IReadOnlyList<RoundStepLoss> Steps, InnerOptimizerState? Inner,
    ShardCost? Cost = null, bool InnerFollows = false) : IStepMessage
{
    public int SampleCount => Steps.Sum(s => s.SampleCount);
}

/// <summary>
/// The inner state of a node's round, arriving after its change (TCP links hand the change on first, so the
/// coordinator applies the round while the 4 bytes a parameter of moments, twice, still cross a slow link).
/// </summary>
public sealed record RoundInnerArrived(long Round, int Slot, string WorkerId, InnerOptimizerState Inner);

public sealed record RoundStepLoss(long Step, int SampleCount, double LossSum);
