using VaeCluster.Checkpoints;
using VaeCluster.Coordinator.Cluster;
using VaeCluster.Coordinator.Hosting;
using VaeCluster.Coordinator.Monitoring;
using VaeCluster.Coordinator.Web;
using VaeCluster.Hosting;
using VaeCluster.Coordinator.Run;
using VaeCluster.Coordinator.Training;
using VaeCluster.Data;
using VaeCluster.DataPlane;
using VaeCluster.Logging;
using VaeCluster.Model;
using VaeCluster.Training;

namespace VaeCluster.Coordinator.Cli;

/// <summary>
/// Turns a train request into a run: settle the options, load the data (before anything is written, so bad input
/// leaves no half-made run behind), prepare the run directory and logs, then hand over to the actors.
/// </summary>
public static class TrainRunner
{
    public static async Task<int> RunAsync(TrainRequest request, CancellationToken cancel)
    {
        var (options, checkpoint, run) = request.Resume ? ForResume(request) : ForNewRun(request);
        using var data = MnistDataset.Load(options.DataDir, options.TrainLimit);
        await using var watch = await StartWatch(request.Http, run, options); // listening before anything is written

        run.Create();
        run.MarkLatest();
        AtomicFile.WriteAllText(run.Config, options.ToJson() + "\n");
        using var log = LoggingSetup.Create("coordinator", Path.Combine(run.Logs, "coordinator.clef"), tap: watch.Tap);
        if (watch.Url is { } url) log.Information("Dashboard at {Url:l}", url);
        using var state = checkpoint is null
            ? TrainingState.Fresh(options, data.Train.Count)
            : TrainingState.Resume(checkpoint, options, data.Train.Count);
        if (checkpoint is not null)
        {
            new MetricsLog(run.Metrics).TruncateFrom(state.Cursor.Epoch);
            StepLedger.TruncateFrom(run.Ledger, state.Cursor.GlobalStep);
            log.Information("Resuming {Run} at epoch {Epoch}, step {Step}", run.Root, state.Cursor.Epoch, state.Cursor.GlobalStep);
        }
        log.Information("Training {Epochs} epochs on {Samples} images, batch {BatchSize}, {Workers} workers; run directory {Run}",
            options.Epochs, data.Train.Count, options.BatchSize, options.Workers, run.Root);
        if (state.Finished)
        {
            log.Information("This run already finished its {Epochs} epochs; pass a larger --epochs to continue it", options.Epochs);
            return 0;
        }

        using var recorder = new RunRecorder(run, data.Test, options.KeepCheckpoints, log);
        using var stop = new StopSignals(cancel);
        var plan = watch.Plan(new WatchFacts(new ProgressPlan(options.Epochs, state.StepsPerEpoch), options.LogEvery,
            PayloadBytes: request.Mode == RunMode.SingleProcess ? 0 : TensorLayout.PayloadBytes(TensorLayout.Of(state.Parameters)),
            InProcessWorkers: request.Mode == RunMode.SingleProcess));
        try
        {
            var outcome = request.Mode == RunMode.SingleProcess
                ? await SingleProcessHost.RunAsync(state, recorder, data, plan, log, stop.Token)
                : await ClusterCoordinatorHost.RunAsync(state, recorder, data.Train, request.Cluster!,
                    localWorkers: request.Mode == RunMode.LocalCluster ? options.Workers : 0, plan, log, stop.Token);
            log.Information("Coordinator peak memory {PeakMemoryMb} MB", ProcessMemory.PeakMegabytes());
            return outcome.Succeeded ? 0 : 1;
        }
        catch (OperationCanceledException) when (stop.Token.IsCancellationRequested)
        {
            log.Warning("Interrupted. Continue with: ./vae train --resume {Run}", run.Root);
            return 130;
        }
    }

    private static async Task<RunWatch> StartWatch(DashboardAddress? http, RunDirectory run, TrainingOptions options)
    {
        try { return await RunWatch.StartAsync(http, run, options.Epochs); }
        catch (DashboardError e) { throw new UserError(e.Message); }
    }

    private static (TrainingOptions, Checkpoint?, RunDirectory) ForNewRun(TrainRequest request)
    {
        var options = request.Overrides(new TrainingOptions());
        if (options.Validate() is string problem) throw new UserError(problem);
        var run = new RunDirectory(request.RunDir ?? RunDirectory.DefaultFor(DateTime.Now));
        if (Directory.Exists(run.Checkpoints) && Directory.EnumerateFileSystemEntries(run.Checkpoints).Any())
            throw new UserError($"{run.Root} already holds a run; continue it with --resume {run.Root} or choose another --run");
        return (options, null, run);
    }

    private static (TrainingOptions, Checkpoint?, RunDirectory) ForResume(TrainRequest request)
    {
        var run = new RunDirectory(request.RunDir!);
        if (!Directory.Exists(run.Root)) throw new UserError($"{run.Root}: run directory not found");
        var checkpoint = new CheckpointStore(run.Checkpoints, keep: int.MaxValue)
                .LoadNewestGood(skipped => Console.Error.WriteLine($"warning: skipping checkpoint {skipped}"))
            ?? throw new UserError($"{run.Checkpoints}: no usable checkpoint to resume from");
        var saved = TrainingOptions.FromJson(checkpoint.ConfigJson);
        var options = request.Overrides(saved);
        // These define the maths of the run; changing them mid-way would make it a different run.
        if (options.Seed != saved.Seed || options.BatchSize != saved.BatchSize || options.LearningRate != saved.LearningRate
            || options.TrainLimit != saved.TrainLimit || options.Hidden != saved.Hidden || options.Latent != saved.Latent
            || options.Deterministic != saved.Deterministic)
            throw new UserError("--seed, --batch-size, --lr, --train-limit and --deterministic cannot change when resuming; start a new run instead");
        if (options.Model != saved.Model)
            throw new UserError($"--model cannot change when resuming: {run.Root} trains the {ModelKindName.Of(saved.Model)} model; start a new run instead");
        if (options.Validate() is string problem) throw new UserError(problem);
        return (options, checkpoint, run);
    }
}
