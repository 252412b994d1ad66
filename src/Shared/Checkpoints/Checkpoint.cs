using static TorchSharp.torch;

namespace VaeCluster.Checkpoints;

/// <summary>Where training stands, counted in optimizer steps applied.</summary>
/// <param name="Epoch">1-based epoch the next step belongs to.</param>
/// <param name="StepInEpoch">Steps of this epoch already applied; the next step has this index.</param>
/// <param name="GlobalStep">Steps applied in the whole run.</param>
public sealed record TrainingCursor(int Epoch, int StepInEpoch, long GlobalStep);

/// <summary>Adam's per-parameter moments, named like the model parameters they belong to.</summary>
/// <param name="Step">Adam's step count, which drives its bias correction.</param>
public sealed record AdamState(
    long Step,
    IReadOnlyList<(string Name, Tensor Tensor)> ExpAvg,
    IReadOnlyList<(string Name, Tensor Tensor)> ExpAvgSq);

/// <summary>
/// Everything needed to continue a run at a step boundary as if it had never stopped.
/// The tensors belong to whoever built or loaded the checkpoint, who disposes them.
/// </summary>
/// <param name="DataOrderSeed">The run's seed.</param>
/// <param name="Random">The run's random stream at this step, so a resumed run draws what it would have drawn.</param>
/// <param name="ConfigJson">The run's configuration, kept verbatim so a resume can check it is the same run.</param>
/// <param name="Parameters">Model parameters in state_dict order, with PyTorch's names.</param>
/// <param name="EpochLoss">The loss summed so far in the cursor's epoch; null in checkpoints written before it was kept.</param>
public sealed record Checkpoint(
    TrainingCursor Cursor,
    long DataOrderSeed,
    RandomStreamState Random,
    string ConfigJson,
    IReadOnlyList<(string Name, Tensor Tensor)> Parameters,
    AdamState Optimizer,
    EpochLoss? EpochLoss = null,
    RoundsState? Rounds = null)
{
    /// <summary>
    /// The same checkpoint with tensors of its own (copies), to be written while training changes the originals;
    /// whoever takes it disposes them (<see cref="DisposeTensors"/>).
    /// </summary>
    public Checkpoint WithOwnTensors() => this with
    {
        Parameters = Copies(Parameters),
        Optimizer = Copy(Optimizer),
        Rounds = Rounds is null ? null : new RoundsState(Copies(Rounds.OuterMomentum), Rounds.Inner.Select(s => (s.Slot, Copy(s.State))).ToList()),
    };

    private static AdamState Copy(AdamState state) => state with { ExpAvg = Copies(state.ExpAvg), ExpAvgSq = Copies(state.ExpAvgSq) };

    private static IReadOnlyList<(string Name, Tensor Tensor)> Copies(IReadOnlyList<(string Name, Tensor Tensor)> tensors) =>
        tensors.Select(p => (p.Name, p.Tensor.detach().clone().DetachFromDisposeScope())).ToList();

    /// <summary>Releases the tensors, for whoever loaded the checkpoint and has restored from it (or passed it by).</summary>
    public void DisposeTensors()
    {
        foreach (var (_, t) in Parameters.Concat(Optimizer.ExpAvg).Concat(Optimizer.ExpAvgSq)) t.Dispose();
        if (Rounds is null) return;
        foreach (var (_, t) in Rounds.OuterMomentum) t.Dispose();
        foreach (var (_, s) in Rounds.Inner)
            foreach (var (_, t) in s.ExpAvg.Concat(s.ExpAvgSq)) t.Dispose();
    }
}

/// <summary>
/// What low-communication training (--sync-every above 1) adds to a checkpoint, always taken at a round boundary:
/// the outer optimizer's momentum, and every round slot's inner Adam state at that boundary (a slot whose node was
/// lost in the last round has none: its next node starts afresh, as it would have without the restart).
/// </summary>
public sealed record RoundsState(
    IReadOnlyList<(string Name, Tensor Tensor)> OuterMomentum,
    IReadOnlyList<(int Slot, AdamState State)> Inner);

/// <summary>
/// The training loss of the steps applied so far in an epoch (skipped steps excluded), so that an epoch's
/// train_loss covers the whole epoch even when the run was resumed in the middle of it.
/// </summary>
public sealed record EpochLoss(double LossSum, long Samples)
{
    public static readonly EpochLoss None = new(0, 0);

    public EpochLoss Add(double lossSum, long samples) => new(LossSum + lossSum, Samples + samples);

    /// <summary>Nats per image.</summary>
    public double PerSample => LossSum / Math.Max(1, Samples);
}

/// <summary>
/// libtorch CPU generator states (its own byte layout): <paramref name="Current"/> where the run's stream stands,
/// <paramref name="BeforePermutation"/> where it stood before drawing the current epoch's order.
/// </summary>
public sealed record RandomStreamState(byte[] BeforePermutation, byte[] Current);
