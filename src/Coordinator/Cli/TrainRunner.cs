using System.Text.Json;
using Serilog;
using VaeCluster.Checkpoints;
using VaeCluster.Coordinator.Cluster;
using VaeCluster.Coordinator.Hosting;
using VaeCluster.Coordinator.Monitoring;
using VaeCluster.Coordinator.Web;
using VaeCluster.DataPlane;
using VaeCluster.Hosting;
using VaeCluster.Coordinator.Run;
using VaeCluster.Coordinator.Training;
using VaeCluster.Data;
using VaeCluster.Logging;
using VaeCluster.Model;
using VaeCluster.Training;

namespace VaeCluster.Coordinator.Cli;

/// <summary>
/// Turns a train request into a run. Everything that can be refused is checked before anything is written (options,
/// the run directory, the data, the node's ports), so bad input costs one line and leaves no half-made run behind;
/// the run directory is owned (RunDirectoryLock) before anything in it is read or written and until the run ends;
/// then the run directory and logs are prepared and the actors take over.
/// </summary>
public static class TrainRunner
{
    /// <summary>
    /// What a run starts from: its options, the checkpoint to continue (null: step 0), what was passed by, and the
    /// lock on its directory (null: a new run's folder that does not exist yet, owned when it is made).
    /// </summary>
    private sealed record Start(TrainingOptions Options, Checkpoint? Checkpoint, RunDirectory Run, IReadOnlyList<string> SkippedCheckpoints,
        RunDirectoryLock? Owner);

    public static async Task<int> RunAsync(TrainRequest request, CancellationToken cancel)
    {
        var start = request.Resume ? ForResume(request) : ForNewRun(request);
        using var owner = start.Owner;
        var (options, checkpoint, run, _, _) = start;
        // One process's maths for any worker layout is what --deterministic promises; bf16 rounds only what crosses
        // TCP (not shared memory, not one process), so the parameters would depend on where the workers run.
        if (options.Deterministic && request.Cluster?.Wire == WirePrecision.Bf16)
            throw new UserError("--wire bf16 cannot be combined with --deterministic: bf16 rounds only what crosses TCP, so the result would depend on where workers run; use --wire fp32 for a reproducible run");
        bool finished = checkpoint is not null && checkpoint.Cursor.Epoch > options.Epochs;
        // Bound before anything is written; let go just before the host binds them for good.
        using var ports = request.Cluster is { } cluster && !finished ? NodePorts.Hold(cluster, dataPlane: true) : null;
        using var data = MnistDataset.Load(options.DataDir, options.TrainLimit);
        options = OnTheRunsData(options, data.Train.Sha256, run);
        start = start with { Options = options };
        await using var watch = await StartWatch(request.Http, run, options); // listening before anything is written
        using var ownerOfNewFolder = owner is null ? OwnForNewRun(run, request.Mode) : null;
        using var log = Prepare(start, request.Resume, watch);
        using var state = checkpoint is null
            ? TrainingState.Fresh(options, data.Train.Count)
            : TrainingState.Resume(checkpoint, options, data.Train.Count);
        checkpoint?.DisposeTensors();
        if (request.Resume) SetAsideWhatWillBeRedone(run, state, log);
        log.Information("Training {Epochs} epochs on {Samples} images, batch {BatchSize}, {Workers} workers; run directory {Run}",
            options.Epochs, data.Train.Count, options.BatchSize, options.Workers, run.Root);
        if (finished) return Finished(run, state, log);

        using var recorder = new RunRecorder(run, data.Test, options.KeepCheckpoints, log);
        var plan = watch.Plan(new WatchFacts(new ProgressPlan(options.Epochs, state.StepsPerEpoch), options.LogEvery,
            // As a TCP node moves them (--wire); a node on shared memory copies float32.
            PayloadBytes: request.Mode == RunMode.SingleProcess ? 0
                : PayloadCodec.For(request.Cluster?.Wire ?? WirePrecision.Fp32).PayloadBytes(TensorLayout.Of(state.Parameters)),
            InProcessWorkers: request.Mode == RunMode.SingleProcess));
        using var stop = new StopSignals(cancel);
        ports?.Dispose();
        try
        {
            var outcome = request.Mode == RunMode.SingleProcess
                ? await SingleProcessHost.RunAsync(state, recorder, data, plan, log, stop.Token)
                : await ClusterCoordinatorHost.RunAsync(state, recorder, data.Train, request.Cluster!,
                    localWorkers: request.Mode == RunMode.LocalCluster ? new LocalWorkers(options.Workers, request.MaxRestarts, options.MinWorkers) : null,
                    plan, log, stop.Token);
            log.Information("Coordinator peak memory {PeakMemoryMb} MB", ProcessMemory.PeakMegabytes());
            return outcome.Succeeded ? 0 : 1;
        }
        catch (OperationCanceledException) when (stop.Token.IsCancellationRequested)
        {
            log.Warning("Interrupted. Continue with: {ResumeCommand:l} --resume {Run}", CommandName(request.Mode), run.Root);
            return 130;
        }
    }

    private static string CommandName(RunMode mode) => mode switch
    {
        RunMode.SingleProcess => "./vae train",
        RunMode.LocalCluster => "./vae train --cluster",
        _ => "./vae coordinator",
    };

    /// <summary>
    /// The run records the training data it learns from (their DataDigest); a resume must bring the same data, as a
    /// worker node must (WorkerGateway): other images under the same step numbers would make it another run, silently.
    /// A run that recorded none (older than the record) takes this data's from now on.
    /// </summary>
    private static TrainingOptions OnTheRunsData(TrainingOptions options, string sha256, RunDirectory run)
    {
        if (options.TrainDataSha256 is { } recorded && recorded != sha256)
            throw new UserError($"--resume {run.Root}: the training data in {options.DataDir} differ from the run's (sha256 {Short(sha256)} here, {Short(recorded)} in the run); resume with the same --data");
        return options with { TrainDataSha256 = sha256 };
    }

    private static string Short(string sha256) => sha256.Length > 12 ? sha256[..12] + ".." : sha256;

    /// <summary>
    /// Owns the folder of a new run (making it if missing), then checks that no run trained there: under the lock, so
    /// that no other process can start one between the check and this run's first write.
    /// </summary>
    private static RunDirectoryLock OwnForNewRun(RunDirectory run, RunMode mode)
    {
        var owner = RunDirectoryLock.Take(run, CommandName(mode), "wait for it to end, or choose another --run");
        // A new run here would add a second history to the old run's ledger and checkpoints.
        if (!run.HoldsTraining) return owner;
        owner.Dispose();
        throw new UserError($"{run.Root} already holds a run; continue it with --resume {run.Root}, or choose another --run");
    }

    private static async Task<RunWatch> StartWatch(DashboardAddress? http, RunDirectory run, TrainingOptions options)
    {
        try { return await RunWatch.StartAsync(http, run, options.Epochs); }
        catch (DashboardError e) { throw new UserError(e.Message); }
    }

    /// <summary>The first writes of a run: its directory, the latest link, config.json and the coordinator's log.</summary>
    private static Serilog.Core.Logger Prepare(Start start, bool resume, RunWatch watch)
    {
        var run = start.Run;
        try
        {
            run.Create();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"{run.Root}: cannot make the run directory: {e.Message}");
        }
        bool marked = run.MarkLatest();
        AtomicFile.WriteAllText(run.Config, start.Options.ToJson() + "\n");
        var log = LoggingSetup.Create("coordinator", Path.Combine(run.Logs, "coordinator.clef"), tap: watch.Tap);
        if (watch.Url is { } url) log.Information("Dashboard at {Url:l}", url);
        if (!marked) log.Warning("Could not point {Latest} at this run; it is left as it was", Path.Combine(Path.GetDirectoryName(Path.GetFullPath(run.Root).TrimEnd('/'))!, "latest"));
        foreach (var skipped in start.SkippedCheckpoints) log.Warning("Skipped a checkpoint that cannot be resumed from: {Problem}", skipped);
        if (resume && start.Checkpoint is null)
            log.Warning("No usable checkpoint in {Checkpoints}: {Run} starts again from step 0", run.Checkpoints, run.Root);
        return log;
    }

    /// <summary>
    /// A resumed run redoes the steps after its checkpoint: their metrics lines go, and their ledger lines move to
    /// the redone ledger, so that the ledger holds every applied step exactly once.
    /// </summary>
    private static void SetAsideWhatWillBeRedone(RunDirectory run, TrainingState state, ILogger log)
    {
        new MetricsLog(run.Metrics).TruncateFrom(state.Cursor.Epoch);
        int redone = StepLedger.SetAsideFrom(run.Ledger, run.RedoneLedger, state.Cursor.GlobalStep);
        log.Information("Resuming {Run} at epoch {Epoch}, step {Step}", run.Root, state.Cursor.Epoch, state.Cursor.GlobalStep);
        if (redone > 0)
            log.Information("{Redone} steps applied after step {Step} before the stop will be redone; their ledger lines moved to {RedoneLedger}",
                redone, state.Cursor.GlobalStep, run.RedoneLedger);
    }

    /// <summary>A run past its last epoch: it only lacks its export if it stopped between the last checkpoint and the export.</summary>
    private static int Finished(RunDirectory run, TrainingState state, ILogger log)
    {
        if (File.Exists(run.Model))
        {
            log.Information("This run already finished its {Epochs} epochs; pass a larger --epochs to continue it", state.Options.Epochs);
            return 0;
        }
        ModelExport.WriteTrained(run.Model, state.Model, state.Options, state.Cursor);
        log.Information("Training complete after {Epochs} epochs ({Step} steps); model written to {Model}; parameters sha256 {ParametersSha256}",
            state.Options.Epochs, state.Cursor.GlobalStep, run.Model, ParameterDigest.Sha256(state.Parameters.Select(p => p.Tensor)));
        return 0;
    }

    private static Start ForNewRun(TrainRequest request)
    {
        var options = request.Overrides(new TrainingOptions());
        if (options.Validate() is string problem) throw new UserError(problem);
        if (NativeBf16.Refusal(options.Precision, request.CpuInfo ?? NativeBf16.ThisMachine) is string refused) throw new UserError(refused);
        var run = new RunDirectory(request.RunDir ?? RunDirectory.DefaultFor(DateTime.Now));
        if (run.WriteProblem("--run") is string unusable) throw new UserError(unusable);
        // A folder that exists is owned before it is looked into; one that does not is owned when it is made.
        return new Start(options, null, run, [], Directory.Exists(run.Root) ? OwnForNewRun(run, request.Mode) : null);
    }

    private static Start ForResume(TrainRequest request)
    {
        var run = new RunDirectory(request.RunDir!);
        if (string.IsNullOrWhiteSpace(run.Root)) throw new UserError("--resume needs the run directory to continue");
        if (!Directory.Exists(run.Root))
            throw new UserError(File.Exists(run.Root) ? $"--resume {run.Root}: is a file, not a run directory" : $"{run.Root}: run directory not found");
        if (run.WriteProblem("--resume") is string unusable) throw new UserError(unusable);
        // Owned before anything in it is read: a resume continues from what the last owner left, never from what a
        // running one is writing (it would set aside the ledger lines that one goes on appending).
        var owner = RunDirectoryLock.Take(run, CommandName(request.Mode), "wait for it to end, then resume it");
        try
        {
            return ResumeFrom(request, run, owner);
        }
        catch
        {
            owner.Dispose();
            throw;
        }
    }

    private static Start ResumeFrom(TrainRequest request, RunDirectory run, RunDirectoryLock owner)
    {
        var skipped = new List<string>();
        var checkpoint = new CheckpointStore(run.Checkpoints, keep: int.MaxValue).LoadNewestGood(skipped.Add);
        // Killed before its first checkpoint (or with none usable): the run starts again from step 0, as it was configured.
        var saved = checkpoint is not null ? TrainingOptions.FromJson(checkpoint.ConfigJson)
            : File.Exists(run.Config) ? SavedConfig(run)
            : throw new UserError($"{run.Root}: nothing to resume (no usable checkpoint, no config.json); start a new run with --run {run.Root}");
        var options = request.Overrides(saved);
        // The model first: another model also brings its own default --lr, and this is the message that helps.
        if (options.Model != saved.Model)
            throw new UserError($"--model cannot change when resuming: {run.Root} trains the {ModelKindName.Of(saved.Model)} model; start a new run instead");
        // These define the maths of the run; changing them mid-way would make it a different run.
        if (options.Seed != saved.Seed || options.BatchSize != saved.BatchSize || options.LearningRate != saved.LearningRate
            || options.TrainLimit != saved.TrainLimit || options.Hidden != saved.Hidden || options.Latent != saved.Latent
            || options.Deterministic != saved.Deterministic)
            throw new UserError("--seed, --batch-size, --lr, --train-limit and --deterministic cannot change when resuming; start a new run instead");
        if (options.SyncEvery != saved.SyncEvery || options.OuterLearningRate != saved.OuterLearningRate || options.OuterMomentum != saved.OuterMomentum)
            throw new UserError($"--sync-every, --outer-lr and --outer-momentum cannot change when resuming ({run.Root} trains with --sync-every {saved.SyncEvery}); start a new run instead");
        if (options.Precision != saved.Precision)
            throw new UserError($"--precision cannot change when resuming: {run.Root} trains in {PrecisionName.Of(saved.Precision)}; start a new run instead");
        if (options.Validate() is string problem) throw new UserError(problem);
        if (NativeBf16.Refusal(options.Precision, request.CpuInfo ?? NativeBf16.ThisMachine) is string refused) throw new UserError(refused);
        return new Start(options, checkpoint, run, skipped, owner);
    }

    private static TrainingOptions SavedConfig(RunDirectory run)
    {
        try
        {
            return TrainingOptions.FromJson(File.ReadAllText(run.Config));
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            throw new UserError($"{run.Config}: not a run configuration ({e.Message}); start a new run instead");
        }
    }
}
