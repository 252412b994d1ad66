using Akka.Actor;
using Serilog;
using VaeCluster.Coordinator.Run;
using VaeCluster.Coordinator.Training;
using VaeCluster.Protocol;
using VaeCluster.Training;

namespace VaeCluster.Coordinator;

/// <summary>
/// Owns the parameters and the optimizer and drives training, one global batch at a time:
/// cut the batch into shards, one per free worker; collect every shard's gradient (reassigning shards whose
/// worker misses its deadline); apply the combined update once; checkpoint; next step.
/// </summary>
public sealed class CoordinatorActor : ReceiveActor, IWithTimers
{
    private sealed record ShardDeadline(long Step, int ShardIndex);
    private sealed record EpochClosed(EpochMetrics Metrics);
    private sealed class StillWaiting { public static readonly StillWaiting Instance = new(); }
    private sealed class WatchStep { public static readonly WatchStep Instance = new(); }
    private static readonly TimeSpan StallReportAfter = TimeSpan.FromSeconds(5);

    private readonly TrainingState state;
    private readonly RunRecorder recorder;
    private readonly ILogger log;
    private readonly Dictionary<IActorRef, string> workers = new();
    private readonly HashSet<IActorRef> busy = new();
    private StepInFlight? step;
    private bool paused;
    private EpochTally tally = new();
    private readonly System.Diagnostics.Stopwatch sinceLastLog = new();
    private long samplesSinceLastLog;

    public ITimerScheduler Timers { get; set; } = null!;

    public CoordinatorActor(TrainingState state, RunRecorder recorder, ILogger log)
    {
        this.state = state;
        this.recorder = recorder;
        this.log = log.ForContext("Role", "coordinator");
        WaitingForWorkers();
    }

    public static Props Props(TrainingState state, RunRecorder recorder, ILogger log) =>
        Akka.Actor.Props.Create(() => new CoordinatorActor(state, recorder, log));

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer(nameof(StillWaiting), StillWaiting.Instance, TimeSpan.FromSeconds(5));
        Timers.StartPeriodicTimer(nameof(WatchStep), WatchStep.Instance, StallReportAfter);
    }

    /// <summary>No silent hang: a step that takes unusually long says what it is waiting for.</summary>
    private void ReportStall()
    {
        if (step is null || step.Age < StallReportAfter) return;
        var waiting = step.Pending.Select(p => p.Owner is null ? $"shard {p.Shard} (no free worker yet)" : $"shard {p.Shard} from {workers.GetValueOrDefault(p.Owner, "?")}");
        log.Warning("Step {Step} has waited {Seconds:F0} s for {Waiting}; deadline {Timeout} per shard",
            step.Step, step.Age.TotalSeconds, string.Join(", ", waiting), state.Options.StepTimeout);
    }

    private void WaitingForWorkers()
    {
        Receive<RegisterWorker>(register => Guard(() =>
        {
            Accept(register);
            if (workers.Count < state.Options.Workers) return;
            Timers.Cancel(nameof(StillWaiting));
            log.Information("{Workers} workers registered; training from epoch {Epoch}, step {Step}",
                workers.Count, state.Cursor.Epoch, state.Cursor.GlobalStep);
            Become(Training);
            NextStep();
        }));
        Receive<StillWaiting>(_ => log.Warning("Waiting for workers: {Registered} of {Expected} registered",
            workers.Count, state.Options.Workers));
    }

    private void ReportPause() =>
        log.Warning("Paused at step {Step}: {Present} workers present, --min-workers is {MinWorkers}; waiting for workers to join",
            state.Cursor.GlobalStep, workers.Count, state.Options.MinWorkers);

    private void Training()
    {
        Receive<StillWaiting>(_ => { if (paused) ReportPause(); });
        Receive<WatchStep>(_ => ReportStall());
        Receive<RegisterWorker>(register => Guard(() => { Accept(register); OfferWork(Sender); }));
        Receive<ShardGradient>(result => Guard(() => OnShardGradient(result)));
        Receive<ShardDeadline>(deadline => Guard(() => OnDeadline(deadline)));
        Receive<Terminated>(gone => Guard(() => OnWorkerLost(gone.ActorRef)));
    }

    private void ClosingEpoch()
    {
        Receive<EpochClosed>(closed => Guard(() =>
        {
            var m = closed.Metrics;
            log.Information("Epoch {Epoch} done: train loss {TrainLoss:F2}, test loss {TestLoss:F2} nats/image, {SamplesPerSecond:F0} samples/s over {TrainSeconds:F1} s",
                m.Epoch, m.TrainLoss, m.TestLoss, m.SamplesPerSecond, m.TrainSeconds);
            tally = new EpochTally();
            if (state.Finished)
            {
                Finish();
                return;
            }
            Become(Training);
            NextStep();
        }));
        Receive<Status.Failure>(failure => Fail(failure.Cause));
        Receive<RegisterWorker>(register => Guard(() => Accept(register)));
        Receive<ShardGradient>(stale => { busy.Remove(Sender); stale.Gradient.Dispose(); });
        Receive<ShardDeadline>(_ => { });
        Receive<Terminated>(gone => Guard(() => OnWorkerLost(gone.ActorRef)));
    }

    private void Accept(RegisterWorker register)
    {
        bool known = workers.ContainsKey(Sender);
        workers[Sender] = register.WorkerId;
        busy.Remove(Sender); // a restarted worker has dropped whatever it held
        Context.Watch(Sender);
        Sender.Tell(new WorkerAccepted(register.WorkerId, new SharedParameters(state.Parameters)));
        if (!known) log.Information("Worker {Worker} registered ({Registered} in all)", register.WorkerId, workers.Count);
    }

    /// <summary>Starts the step at the cursor, or closes the epoch, or finishes the run.</summary>
    private void NextStep()
    {
        if (state.EpochComplete)
        {
            CloseEpoch();
            return;
        }
        if (workers.Count < state.Options.MinWorkers)
        {
            if (!paused) Timers.StartPeriodicTimer(nameof(StillWaiting), StillWaiting.Instance, TimeSpan.FromSeconds(5));
            if (!paused) ReportPause();
            paused = true;
            return;
        }
        if (paused)
        {
            paused = false;
            Timers.Cancel(nameof(StillWaiting));
            log.Information("Resuming at step {Step}: {Workers} workers present", state.Cursor.GlobalStep, workers.Count);
        }
        var free = workers.Keys.Where(w => !busy.Contains(w)).ToList();
        if (free.Count == 0)
        {
            log.Warning("No free worker for step {Step}; waiting for one to answer or join", state.Cursor.GlobalStep);
            return;
        }
        // Deterministic runs cut every batch the same way, whoever is there; the others cut one shard per free worker.
        int shardCount = state.Options.Deterministic ? TrainingOptions.DeterministicShards : free.Count;
        var shards = ShardPlanner.Cut(state.NextBatch(), shardCount);
        step = new StepInFlight(state.Cursor.GlobalStep, state.Cursor.Epoch, state.Cursor.StepInEpoch, shards);
        tally.Resume();
        for (int i = 0; i < shards.Count; i++)
        {
            if (i < free.Count) Send(i, free[i]);
            else step.Queue(i);
        }
    }

    private void Send(int shardIndex, IActorRef worker)
    {
        step!.Assign(shardIndex, worker);
        busy.Add(worker);
        worker.Tell(step.Shards[shardIndex]);
        Timers.StartSingleTimer(DeadlineKey(shardIndex), new ShardDeadline(step.Step, shardIndex), state.Options.StepTimeout);
    }

    private void OnShardGradient(ShardGradient result)
    {
        busy.Remove(Sender);
        if (step is null || !step.TryRecord(result))
        {
            log.Debug("Ignoring result for step {Step} shard {Shard} from {Worker}: stale or duplicate",
                result.Step, result.ShardIndex, result.WorkerId);
            result.Gradient.Dispose();
            OfferWork(Sender);
            return;
        }
        Timers.Cancel(DeadlineKey(result.ShardIndex));
        if (!step.IsComplete)
        {
            OfferWork(Sender);
            return;
        }
        ApplyStep(step);
    }

    private void ApplyStep(StepInFlight done)
    {
        var results = done.Results;
        double lossSum = results.Sum(r => r.LossSum);
        int samples = results.Sum(r => r.SampleCount);
        bool applied = state.Apply(results);
        tally.Pause();
        if (applied) tally.Add(samples);
        else log.Error("Step {Step} skipped: its loss ({Loss}) or gradient is not finite; the parameters are unchanged", done.Step, lossSum);
        step = null;
        var contributors = results.Select(r => r.WorkerId).ToList();
        recorder.RecordStep(new LedgerEntry(done.Step, done.Epoch, done.StepInEpoch, samples, contributors, done.ReassignedShards, Skipped: !applied));
        Context.System.EventStream.Publish(new StepApplied(done.Step, done.Epoch, done.StepInEpoch, samples, lossSum,
            contributors, done.ReassignedShards));
        LogProgress(done, lossSum, samples, contributors.Distinct().Count());
        if (state.Cursor.GlobalStep % state.Options.CheckpointEvery == 0 && !state.EpochComplete)
            recorder.SaveCheckpoint(state);
        NextStep();
    }

    private void LogProgress(StepInFlight done, double lossSum, int samples, int workerCount)
    {
        if (!sinceLastLog.IsRunning) sinceLastLog.Start();
        samplesSinceLastLog += samples;
        if ((done.StepInEpoch + 1) % state.Options.LogEvery != 0) return;
        log.Information("Epoch {Epoch} step {StepInEpoch}/{StepsPerEpoch}: loss {Loss:F2}, {SamplesPerSecond:F0} samples/s, {Workers} workers",
            done.Epoch, done.StepInEpoch + 1, state.StepsPerEpoch, lossSum / samples,
            samplesSinceLastLog / sinceLastLog.Elapsed.TotalSeconds, workerCount);
        samplesSinceLastLog = 0;
        sinceLastLog.Restart();
    }

    private void OnDeadline(ShardDeadline deadline)
    {
        if (step is null || step.Step != deadline.Step || step.IsDone(deadline.ShardIndex)) return;
        var late = step.OwnerOf(deadline.ShardIndex);
        log.Warning("Worker {Worker} missed the {Timeout} deadline for shard {Shard} of step {Step}; giving the shard to another worker",
            late is null ? "?" : workers.GetValueOrDefault(late, "?"), state.Options.StepTimeout, deadline.ShardIndex, deadline.Step);
        step.Orphan(deadline.ShardIndex);
        foreach (var free in workers.Keys.Where(w => !busy.Contains(w)).ToList()) OfferWork(free);
    }

    private void OnWorkerLost(IActorRef worker)
    {
        if (!workers.Remove(worker, out var id)) return;
        busy.Remove(worker);
        log.Warning("Worker {Worker} left ({Remaining} remain)", id, workers.Count);
        if (step is null) return;
        foreach (int shard in step.PendingShardsOf(worker).ToList()) step.Orphan(shard);
        foreach (var free in workers.Keys.Where(w => !busy.Contains(w)).ToList()) OfferWork(free);
    }

    /// <summary>Gives a free worker a shard that lost its owner, or starts the next step if none is running.</summary>
    private void OfferWork(IActorRef worker)
    {
        if (!workers.ContainsKey(worker) || busy.Contains(worker)) return;
        if (step is null)
        {
            NextStep();
            return;
        }
        if (step.TakeOrphan() is int shard) Send(shard, worker);
    }

    private void CloseEpoch()
    {
        Become(ClosingEpoch);
        var epochTally = tally;
        int workerCount = workers.Count;
        // Evaluation, pictures and the checkpoint take a while: off the mailbox, so stale results are still drained.
        Task.Run(() => new EpochClosed(recorder.CloseEpoch(state, epochTally, workerCount))).PipeTo(Self);
    }

    private void Finish()
    {
        recorder.ExportModel(state);
        log.Information("Training complete after {Epochs} epochs ({Step} steps); model written to {Model}; parameters sha256 {ParametersSha256}",
            state.Options.Epochs, state.Cursor.GlobalStep, recorder.Directory.Model, ParameterDigest.Sha256(state.Parameters.Select(p => p.Tensor)));
        Context.System.EventStream.Publish(new TrainingFinished(true, null));
        Become(Finished);
    }

    private void Finished()
    {
        Receive<ShardGradient>(stale => stale.Gradient.Dispose());
        ReceiveAny(_ => { });
    }

    private string DeadlineKey(int shardIndex) => $"deadline-{shardIndex}";

    private void Guard(Action handler)
    {
        try { handler(); }
        catch (Exception error) { Fail(error); }
    }

    private void Fail(Exception error)
    {
        log.Fatal(error, "Training stopped: {Error}", error.Message);
        step?.DiscardResults();
        Context.System.EventStream.Publish(new TrainingFinished(false, error.Message));
        Context.Stop(Self);
    }
}
