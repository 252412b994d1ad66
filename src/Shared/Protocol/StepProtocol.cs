using Akka.Actor;
using static TorchSharp.torch;

namespace VaeCluster.Protocol;

/// <summary>
/// The step protocol between the coordinator and its workers. In single-process mode these records travel by
/// reference; tensors inside them change owner with the message (the receiver disposes them).
/// See docs/ARCHITECTURE.md for the sequence.
/// </summary>
public interface IStepMessage;

/// <summary>
/// A participant announces itself to the coordinator when it starts: a worker node (a <c>WorkerPool</c>, or the
/// link that stands in for a remote one) with <paramref name="Actors"/> worker actors. The coordinator cuts each
/// batch across participants in proportion to their actors.
/// </summary>
/// <paramref name="Host"/> names the machine in the run's per-node figures.
public sealed record RegisterWorker(string WorkerId, int Actors = 1, string? Host = null) : IStepMessage;

/// <summary>
/// The coordinator's answer: the parameters the worker's replica must compute with. In single-process mode the
/// replica shares these tensors' storage, so no parameter ever has to be copied.
/// </summary>
public sealed record WorkerAccepted(string WorkerId, SharedParameters Parameters) : IStepMessage;

/// <summary>The master parameters, in PyTorch state_dict order; read-only for workers.</summary>
public sealed record SharedParameters(IReadOnlyList<(string Name, Tensor Tensor)> Tensors);

/// <summary>
/// Compute the summed loss gradient of one shard of a global batch.
/// <paramref name="Noise"/> is this shard's slice of the step's reparameterisation noise ([samples x latent],
/// row-major), so the result does not depend on how the global batch was cut.
/// A node cuts a shard further across its actors and answers one summed gradient, unless <paramref name="Whole"/>
/// (deterministic runs): then one actor computes it, so that its gradient is bit-for-bit the same on any node.
/// </summary>
/// <paramref name="Arrival"/>: how the step's parameters are arriving, where they stream in over TCP (a worker
/// starts each layer once its tensors are in); null where they are all in place. It never leaves the process.
public sealed record ComputeShard(long Step, int ShardIndex, int[] SampleIndices, float[] Noise, bool Whole = false,
    DataPlane.ParameterArrival? Arrival = null) : IStepMessage;

/// <summary>
/// A shard's result: gradients of the summed loss (one tensor per parameter, state_dict order), and the loss sum.
/// Sums, not means, so that shard results add up to the global batch's.
/// </summary>
public sealed record ShardGradient(
    long Step, int ShardIndex, string WorkerId, GradientSum Gradient, double LossSum, int SampleCount, ShardCost? Cost = null) : IStepMessage;

/// <summary>
/// What a shard cost the node that answered it: its compute time, and the bytes its transport moved to and from
/// it since its previous answer (none in one process), for the run's per-node figures.
/// </summary>
public sealed record ShardCost(long ComputeMicros, long BytesToNode, long BytesFromNode);

/// <summary>
/// A worker could not compute a shard: its computation threw (for instance binary cross-entropy on a decoder output
/// that a diverged model made NaN). The worker stays ready for the next shard; the coordinator skips the step.
/// </summary>
public sealed record ShardFailed(long Step, int ShardIndex, string WorkerId, string Reason) : IStepMessage
{
    /// <summary>The first line of an error's message: libtorch appends a native stack trace to its own.</summary>
    public static string ReasonOf(Exception error) =>
        error.Message.Split('\n', 2)[0].Trim() is { Length: > 0 } line ? line : error.GetType().Name;
}

/// <summary>
/// Gradient tensors owned by whoever holds this; disposing releases them. <paramref name="knownFinite"/>: whoever
/// summed them checked, in the same pass, that every value is finite, so the coordinator need not read them again.
/// </summary>
public sealed class GradientSum(IReadOnlyList<Tensor> tensors, bool knownFinite = false) : IDisposable
{
    public IReadOnlyList<Tensor> Tensors { get; } = tensors;

    public bool KnownFinite { get; } = knownFinite;

    public void Dispose()
    {
        foreach (var t in Tensors) t.Dispose();
    }
}

/// <summary>Published on the event stream each time the coordinator applies an update.</summary>
public sealed record StepApplied(
    long GlobalStep, int Epoch, int StepInEpoch, int SampleCount, double LossSum,
    IReadOnlyList<string> Workers, IReadOnlyList<int> ReassignedShards);

/// <summary>Published once when training ends, successfully or not.</summary>
public sealed record TrainingFinished(bool Succeeded, string? Error);
