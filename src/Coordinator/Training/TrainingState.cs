using VaeCluster.Checkpoints;
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

    /// <summary>
    /// The global batch at the cursor: its samples in this epoch's order and its noise, drawn for the whole batch
    /// so that the update does not depend on how it is sharded. Called once per step.
    /// </summary>
    public GlobalBatch NextBatch()
    {
        var samples = EpochOrder.GlobalBatch(permutation, Cursor.StepInEpoch, Options.BatchSize).ToArray();
        using var noise = Randomness.DrawNoise(samples.Length, Options.Latent);
        return new GlobalBatch(Cursor.GlobalStep, samples, noise.data<float>().ToArray(), Options.Latent);
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
        new AdamState(Optimizer.Step, Named(Optimizer.ExpAvg), Named(Optimizer.ExpAvgSq)), EpochLoss);

    private void Restore(Checkpoint checkpoint)
    {
        Model.LoadParameters(checkpoint.Parameters.ToDictionary(p => p.Name, p => p.Tensor));
        var expAvg = checkpoint.Optimizer.ExpAvg.ToDictionary(p => p.Name, p => p.Tensor);
        var expAvgSq = checkpoint.Optimizer.ExpAvgSq.ToDictionary(p => p.Name, p => p.Tensor);
        Optimizer.Restore(checkpoint.Optimizer.Step,
            Parameters.Select(p => expAvg[p.Name]).ToList(), Parameters.Select(p => expAvgSq[p.Name]).ToList());
        Cursor = checkpoint.Cursor;
        EpochLoss = checkpoint.EpochLoss ?? EpochLoss.None;
        permutation = Randomness.Restore(checkpoint.Random, trainCount);
    }

    private IReadOnlyList<(string Name, Tensor Tensor)> Named(IReadOnlyList<Tensor> tensors) =>
        Parameters.Select((p, i) => (p.Name, tensors[i])).ToList();

    public void Dispose()
    {
        Optimizer.Dispose();
        Model.Dispose();
        Randomness.Dispose();
    }
}
