using Serilog;
using VaeCluster.Checkpoints;
using VaeCluster.Coordinator.Training;
using VaeCluster.Data;

namespace VaeCluster.Coordinator.Run;

/// <summary>
/// Writes what a run leaves behind: checkpoints, per-epoch metrics and pictures, and the final export.
/// </summary>
public sealed class RunRecorder(RunDirectory run, MnistSplit test, int keepCheckpoints, ILogger log) : IDisposable
{
    private const int SampleCount = 64;
    private readonly CheckpointStore checkpoints = new(run.Checkpoints, keepCheckpoints);
    private readonly MetricsLog metrics = new(run.Metrics);
    private readonly StepLedger ledger = new(run.Ledger);

    public RunDirectory Directory => run;

    public void RecordStep(LedgerEntry entry) => ledger.Append(entry);

    /// <summary>A checkpoint still being written in the background, if any.</summary>
    private Task? writing;

    /// <summary>Writes a checkpoint now, after any still being written in the background.</summary>
    public void SaveCheckpoint(TrainingState state)
    {
        FinishWriting();
        checkpoints.Save(state.Capture());
        log.Debug("Checkpoint written at step {Step}", state.Cursor.GlobalStep);
    }

    /// <summary>
    /// Writes a copy of the checkpoint on another thread, so the next step does not wait for the disk (a 13 MB write
    /// and its fsync took a quarter of a millisecond a step, amortised, on the coordinator's critical path: issue 17).
    /// One at a time and in order; a failure surfaces at the next checkpoint or at the end of the run. Should the
    /// process die first, the previous checkpoint is still there (each is written atomically) and the ledger's
    /// later lines are redone from it, as for any step after a checkpoint.
    /// </summary>
    public void SaveCheckpointInBackground(TrainingState state) =>
        SaveInBackground(state.Capture().WithOwnTensors()); // ~13 MB copied here, on the coordinator's thread

    /// <summary>Writes a checkpoint that has tensors of its own (and disposes them) on another thread, as above.</summary>
    public void SaveInBackground(Checkpoint copy)
    {
        FinishWriting();
        long step = copy.Cursor.GlobalStep;
        writing = Task.Run(() =>
        {
            try
            {
                checkpoints.Save(copy);
                log.Debug("Checkpoint written at step {Step}", step);
            }
            finally { copy.DisposeTensors(); }
        });
    }

    /// <summary>Waits for the checkpoint being written in the background, if any; rethrows its failure.</summary>
    public void FinishWriting()
    {
        var pending = writing;
        writing = null;
        pending?.GetAwaiter().GetResult();
    }

    /// <summary>The test-set noise of the epoch just trained, from the run's stream (on the coordinator's thread).</summary>
    public IReadOnlyList<TorchSharp.torch.Tensor> DrawTestNoise(TrainingState state) =>
        Evaluator.DrawTestNoise(state.Randomness, test.Images.shape[0], state.Options.Latent);

    /// <summary>
    /// Evaluates, records and draws the epoch just trained; reads the state without changing it (it may run off the
    /// coordinator's thread). Disposes <paramref name="testNoise"/>.
    /// </summary>
    public EpochMetrics CloseEpoch(TrainingState state, IReadOnlyList<TorchSharp.torch.Tensor> testNoise, EpochTally tally, int workers,
        IReadOnlyList<NodeFigures>? nodes = null)
    {
        double testLoss;
        try { testLoss = Evaluator.TestLoss(state.Model, test, testNoise); }
        finally { foreach (var t in testNoise) t.Dispose(); }
        var record = new EpochMetrics(
            state.Cursor.Epoch, state.Cursor.GlobalStep,
            // The whole epoch's loss, kept in the state (and its checkpoints) so a resume mid-epoch does not lose its first part;
            // the speed is this process's own.
            TrainLoss: Math.Round(state.EpochLoss.PerSample, 4),
            TestLoss: Math.Round(testLoss, 4),
            SamplesPerSecond: Math.Round(tally.Samples / Math.Max(1e-9, tally.Seconds), 1),
            TrainSeconds: Math.Round(tally.Seconds, 3),
            Workers: workers,
            Nodes: nodes);
        metrics.Append(record);
        RunPictures.Samples(state.Model, run.Samples, SampleCount, state.Options.Seed);
        RunPictures.Reconstructions(state.Model, test, run.Reconstructions);
        return record;
    }

    /// <summary>The trained weights under PyTorch's state_dict names, loadable with load_state_dict.</summary>
    public void ExportModel(TrainingState state) =>
        ModelExport.WriteTrained(run.Model, state.Model, state.Options, state.Cursor);

    public void Dispose()
    {
        try { FinishWriting(); }
        finally { ledger.Dispose(); }
    }
}

/// <summary>How fast this process trains the current epoch: samples trained here and the time spent on them.</summary>
public sealed class EpochTally
{
    private readonly System.Diagnostics.Stopwatch clock = new();
    public long Samples { get; private set; }
    public double Seconds => clock.Elapsed.TotalSeconds;

    public void Resume() => clock.Start();
    public void Pause() => clock.Stop();

    public void Add(int samples) => Samples += samples;
}
