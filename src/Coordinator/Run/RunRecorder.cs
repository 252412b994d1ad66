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

    public void SaveCheckpoint(TrainingState state)
    {
        checkpoints.Save(state.Capture());
        log.Debug("Checkpoint written at step {Step}", state.Cursor.GlobalStep);
    }

    /// <summary>Evaluates, records and draws the epoch just trained, then checkpoints at the next epoch's start.</summary>
    public EpochMetrics CloseEpoch(TrainingState state, EpochTally tally, int workers)
    {
        var record = new EpochMetrics(
            state.Cursor.Epoch, state.Cursor.GlobalStep,
            // The whole epoch's loss, kept in the state (and its checkpoints) so a resume mid-epoch does not lose its first part;
            // the speed is this process's own.
            TrainLoss: Math.Round(state.EpochLoss.PerSample, 4),
            TestLoss: Math.Round(Evaluator.TestLoss(state.Model, test, state.Randomness), 4),
            SamplesPerSecond: Math.Round(tally.Samples / Math.Max(1e-9, tally.Seconds), 1),
            TrainSeconds: Math.Round(tally.Seconds, 3),
            Workers: workers);
        metrics.Append(record);
        RunPictures.Samples(state.Model, run.Samples, SampleCount, state.Options.Seed);
        RunPictures.Reconstructions(state.Model, test, run.Reconstructions);
        state.StartNextEpoch();
        SaveCheckpoint(state);
        return record;
    }

    /// <summary>The trained weights under PyTorch's state_dict names, loadable with load_state_dict.</summary>
    public void ExportModel(TrainingState state) =>
        ModelExport.Write(run.Model, state.Model, state.Options, state.Cursor);

    public void Dispose() => ledger.Dispose();
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
