using VaeCluster.Checkpoints;
using VaeCluster.Coordinator.Training.Rounds;
using VaeCluster.Model;
using VaeCluster.Protocol;
using VaeCluster.Training;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Training;

/// <summary>
/// What the coordinator owns: the master parameters, the optimizer and the position in the data. Everything a
/// checkpoint must hold lives here, so capture and restore cannot forget a piece.
/// </summary>
public sealed class TrainingState : IDisposable
{
    private readonly int trainCount;
    private int[] permutation;

    public TrainingOptions Options { get; }
    public IVae Model { get; }
    public Adam Optimizer { get; }
    /// <summary>The outer optimizer of --sync-every above 1 (null for synchronous training, which uses <see cref="Optimizer"/>).</summary>
    public OuterNesterov? Outer { get; }
    /// <summary>The nodes' inner optimizer states as last received (--sync-every above 1).</summary>
    public InnerStates Inner { get; } = new();
    public IReadOnlyList<(string Name, Tensor Tensor)> Parameters { get; }
    public TrainingCursor Cursor { get; private set; }

    /// <summary>The loss of the steps applied so far in the cursor's epoch: the epoch's train_loss, across resumes.</summary>
    public EpochLoss EpochLoss { get; private set; } = EpochLoss.None;

    /// <summary>The run's random stream after the initial weights: data order, noise, test-set noise.</summary>
    public RunRandomness Randomness { get; }

    private TrainingState(TrainingOptions options, int trainCount)
    {
        Options = options;
        this.trainCount = trainCount;
        // Seeded like the PyTorch reference, draw for draw (see RunRandomness).
        var (model, stream) = ModelFactory.CreateSeeded(options.Shape, options.Seed);
        Model = model;
        Randomness = new RunRandomness(stream);
        Parameters = Model.NamedParameters();
        Optimizer = new Adam(Parameters, options.LearningRate);
        Outer = options.SyncEvery > 1 ? new OuterNesterov(Parameters, options.OuterLearningRate, options.OuterMomentum) : null;
        Cursor = new TrainingCursor(Epoch: 1, StepInEpoch: 0, GlobalStep: 0);
        permutation = Randomness.DrawPermutation(trainCount);
    }

    public static TrainingState Fresh(TrainingOptions options, int trainCount) => new(options, trainCount);

    public static TrainingState Resume(Checkpoint checkpoint, TrainingOptions options, int trainCount)
    {
        var state = new TrainingState(options, trainCount);
        state.Restore(checkpoint);
        return state;
    }

    public int StepsPerEpoch => EpochOrder.StepsPerEpoch(trainCount, Options.BatchSize);
    public bool EpochComplete => Cursor.StepInEpoch >= StepsPerEpoch;
    public bool Finished => Cursor.Epoch > Options.Epochs;

    /// <summary>The noise's values straight from its memory (data&lt;float&gt;() walks them one index at a time).</summary>
    private static float[] NoiseValues(Tensor noise) => TensorChunks.Floats(noise, 0, checked((int)noise.numel())).ToArray();

    /// <summary>
    /// The global batch at the cursor: its samples in this epoch's order and its noise, drawn for the whole batch
    /// so that the update does not depend on how it is sharded. Called once per step.
    /// </summary>
    public GlobalBatch NextBatch()
    {
        var samples = EpochOrder.GlobalBatch(permutation, Cursor.StepInEpoch, Options.BatchSize).ToArray();
        using var noise = Randomness.DrawNoise(samples.Length, Options.Latent);
        return new GlobalBatch(Cursor.GlobalStep, samples, NoiseValues(noise), Options.Latent);
    }

    /// <summary>
    /// The global batches of the next <paramref name="count"/> steps, their noise drawn in step order, exactly the
    /// draws <see cref="NextBatch"/> makes step by step.
    /// </summary>
    public IReadOnlyList<GlobalBatch> NextBatches(int count)
    {
        var batches = new List<GlobalBatch>(count);
        for (int k = 0; k < count; k++)
        {
            var samples = EpochOrder.GlobalBatch(permutation, Cursor.StepInEpoch + k, Options.BatchSize).ToArray();
            using var noise = Randomness.DrawNoise(samples.Length, Options.Latent);
            batches.Add(new GlobalBatch(Cursor.GlobalStep + k, samples, NoiseValues(noise), Options.Latent));
        }
        return batches;
    }

    /// <summary>Steps left in the cursor's epoch.</summary>
    public int StepsLeftInEpoch => StepsPerEpoch - Cursor.StepInEpoch;

    /// <summary>
    /// Applies a round (--sync-every): the nodes' changes averaged, each weighted by its samples in the round, in slot
    /// order, then the outer Nesterov step; the cursor moves past the round's <paramref name="steps"/> whatever
    /// happens. Nothing is applied when no change came back or the average is not finite; returns false then.
    /// Disposes the changes.
    /// </summary>
    public bool ApplyRound(IReadOnlyList<RoundResult> answeredInSlotOrder, IReadOnlyList<RoundStep> steps)
    {
        bool finite = false;
        try
        {
            if (answeredInSlotOrder.Count > 0)
            {
                double total = answeredInSlotOrder.Sum(r => (double)r.SampleCount);
                using var scope = NewDisposeScope();
                var average = answeredInSlotOrder[0].Change.Tensors.Select(t => zeros_like(t)).ToList();
                using (no_grad())
                {
                    foreach (var r in answeredInSlotOrder)
                        for (int i = 0; i < average.Count; i++) average[i].add_(r.Change.Tensors[i], alpha: r.SampleCount / total);
                }
                finite = FiniteCheck.AllFinite(average);
                if (finite) Outer!.Apply(average);
            }
        }
        finally
        {
            foreach (var r in answeredInSlotOrder) r.Change.Dispose();
        }
        if (finite)
            foreach (var s in steps.Where(s => s.Samples > 0)) EpochLoss = EpochLoss.Add(s.LossSum, s.Samples);
        foreach (var _ in steps) Advance();
        return finite;
    }

    /// <summary>
    /// Applies the combined gradient of a complete step and advances the cursor; disposes the shards. A step whose
    /// loss or gradient is not finite is skipped instead (the cursor still advances), so one bad batch cannot
    /// poison the parameters and the optimizer state; returns false then.
    /// </summary>
    public bool Apply(IReadOnlyList<ShardGradient> shardsInOrder)
    {
        bool finite;
        try
        {
            var (gradient, gradientFinite) = GradientCombiner.SumInShardOrder(shardsInOrder);
            finite = gradientFinite && shardsInOrder.All(s => double.IsFinite(s.LossSum));
            if (finite)
            {
                Optimizer.Apply(gradient);
                EpochLoss = EpochLoss.Add(shardsInOrder.Sum(s => s.LossSum), shardsInOrder.Sum(s => s.SampleCount));
            }
        }
        finally
        {
            foreach (var shard in shardsInOrder) shard.Gradient.Dispose();
        }
        Advance();
        return finite;
    }

    /// <summary>Passes over the step at the cursor without touching parameters or optimizer: it could not be computed.</summary>
    public void Skip() => Advance();

    private void Advance() => Cursor = Cursor with { StepInEpoch = Cursor.StepInEpoch + 1, GlobalStep = Cursor.GlobalStep + 1 };

    /// <summary>Moves to the next epoch and draws its order, as the reference does after its test pass.</summary>
    public void StartNextEpoch()
    {
        Cursor = new TrainingCursor(Cursor.Epoch + 1, 0, Cursor.GlobalStep);
        EpochLoss = EpochLoss.None;
        permutation = Randomness.DrawPermutation(trainCount);
    }

    public Checkpoint Capture() => new(
        Cursor, Options.Seed, Randomness.Capture(), Options.ToJson(), Parameters,
        new AdamState(Optimizer.Step, Named(Optimizer.ExpAvg), Named(Optimizer.ExpAvgSq)), EpochLoss,
        Outer is null ? null : new RoundsState(Named(Outer.Momentum),
            Inner.BySlot.Select(s => (s.Key, new AdamState(s.Value.Step, Named(s.Value.ExpAvg), Named(s.Value.ExpAvgSq)))).ToList()));

    /// <summary>
    /// Copies of the state now, at a round boundary whose inner states are still to come (they are added by
    /// <see cref="WithInner"/>), so that training can move on before they arrive.
    /// </summary>
    public Checkpoint CaptureAwaitingInner() =>
        (Capture() with { Rounds = new RoundsState(Named(Outer!.Momentum), []) }).WithOwnTensors();

    /// <summary>The checkpoint with these round slots' inner states, copied, in it.</summary>
    public Checkpoint WithInner(Checkpoint awaiting, IReadOnlyList<(int Slot, InnerOptimizerState State)> inner) =>
        awaiting with
        {
            Rounds = awaiting.Rounds! with
            {
                Inner = inner.Select(s => (s.Slot, new AdamState(s.State.Step, Named(Clones(s.State.ExpAvg)), Named(Clones(s.State.ExpAvgSq))))).ToList(),
            },
        };

    private static IReadOnlyList<Tensor> Clones(IReadOnlyList<Tensor> tensors) => tensors.Select(t => t.detach().clone().DetachFromDisposeScope()).ToList();

    /// <summary>
    /// Whether a checkpoint now would hold everything the run needs: with --sync-every, the nodes' inner states of
    /// this very round boundary (they reach the coordinator only after rounds it checkpoints after).
    /// </summary>
    public bool CanCheckpoint => Outer is null || Inner.CurrentAt(Cursor.GlobalStep);

    private void Restore(Checkpoint checkpoint)
    {
        Model.LoadParameters(checkpoint.Parameters.ToDictionary(p => p.Name, p => p.Tensor));
        var expAvg = checkpoint.Optimizer.ExpAvg.ToDictionary(p => p.Name, p => p.Tensor);
        var expAvgSq = checkpoint.Optimizer.ExpAvgSq.ToDictionary(p => p.Name, p => p.Tensor);
        Optimizer.Restore(checkpoint.Optimizer.Step,
            Parameters.Select(p => expAvg[p.Name]).ToList(), Parameters.Select(p => expAvgSq[p.Name]).ToList());
        Cursor = checkpoint.Cursor;
        if (Outer is not null && checkpoint.Rounds is { } rounds)
        {
            var momentum = rounds.OuterMomentum.ToDictionary(p => p.Name, p => p.Tensor);
            Outer.Restore(Parameters.Select(p => momentum[p.Name]).ToList());
            Inner.Replace(Cursor.GlobalStep, rounds.Inner.Select(s => (s.Slot, InnerCopy(s.State))).ToList());
        }
        EpochLoss = checkpoint.EpochLoss ?? EpochLoss.None;
        permutation = Randomness.Restore(checkpoint.Random, trainCount);
    }

    /// <summary>A checkpoint's inner state as tensors of the coordinator's own (the checkpoint's are disposed with it).</summary>
    private InnerOptimizerState InnerCopy(AdamState saved)
    {
        var m = saved.ExpAvg.ToDictionary(p => p.Name, p => p.Tensor);
        var v = saved.ExpAvgSq.ToDictionary(p => p.Name, p => p.Tensor);
        return new InnerOptimizerState(saved.Step, Parameters.Select(p => m[p.Name].clone()).ToList(), Parameters.Select(p => v[p.Name].clone()).ToList());
    }

    private IReadOnlyList<(string Name, Tensor Tensor)> Named(IReadOnlyList<Tensor> tensors) =>
        Parameters.Select((p, i) => (p.Name, tensors[i])).ToList();

    public void Dispose()
    {
        Optimizer.Dispose();
        Outer?.Dispose();
        Inner.Dispose();
        Model.Dispose();
        Randomness.Dispose();
    }
}
