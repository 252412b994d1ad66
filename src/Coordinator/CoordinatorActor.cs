using Akka.Actor;
using Serilog;
using VaeCluster.Coordinator.Run;
using VaeCluster.Coordinator.Training;
using VaeCluster.Coordinator.Training.Rounds;
using VaeCluster.Protocol;
using VaeCluster.Training;

namespace VaeCluster.Coordinator;

/// <summary>
/// Owns the parameters and the optimizer and drives training, one global batch at a time:
/// cut the batch into shards, one per free participant (a worker node, sized by its worker actors); collect every
/// shard's gradient (reassigning shards whose participant misses its deadline); apply the combined update once;
/// checkpoint; next step. With <c>--sync-every H</c> above 1 it trains in rounds instead (see "Rounds" below): each
/// node takes H local steps on its shares of H global batches and answers its parameter change.
/// </summary>
public sealed class CoordinatorActor : ReceiveActor, IWithTimers
{
    private sealed record ShardDeadline(long Step, int ShardIndex);
    private sealed record RoundDeadline(long Round, int Slot);
    private sealed record EpochClosed(EpochMetrics Metrics);

    /// <summary>
    /// Consecutive skipped steps after which the run stops as diverged. A skipped step leaves the parameters as they
    /// were, so one bad batch costs one step; but once the parameters themselves are broken (non-finite after too
    /// large a learning rate) every later step fails the same way, and training on would only burn time.
    /// </summary>
    public const int DivergedAfterSkips = 20;

    /// <summary>
    /// Asked by a host that is stopping (SIGTERM): finish the step in flight, checkpoint, answer Done, train no
    /// further. A checkpoint can only be taken between steps: a step's noise is drawn from the stream when it starts.
    /// </summary>
    public sealed class StopAtStepBoundary { public static readonly StopAtStepBoundary Instance = new(); }
    private sealed class StillWaiting { public static readonly StillWaiting Instance = new(); }
    private sealed class WatchStep { public static readonly WatchStep Instance = new(); }
    private static readonly TimeSpan StallReportAfter = TimeSpan.FromSeconds(5);

    private readonly TrainingState state;
    private readonly RunRecorder recorder;
    private readonly ILogger log;
    private readonly Participants workers;
    private StepInFlight? step;
    private RoundInFlight? round;
    private readonly RoundLayout layout = new();
    /// <summary>A round whose every node was lost: its batches (noise drawn already) are trained again.</summary>
    private IReadOnlyList<GlobalBatch>? redoBatches;
    /// <summary>A round boundary's checkpoint whose nodes' inner states are still arriving (rounds over TCP).</summary>
    private PendingInnerCheckpoint? pendingCheckpoint;
    private bool paused;
    private EpochTally tally = new();
    private NodeTally epochNodes = new();
    private readonly NodeTally runNodes = new();
    private readonly System.Diagnostics.Stopwatch sinceLastLog = new();
    private long samplesSinceLastLog;
    private int consecutiveSkips;
    private long firstSkipped;
    private IActorRef? stopRequester;

    public ITimerScheduler Timers { get; set; } = null!;

    public CoordinatorActor(TrainingState state, RunRecorder recorder, ILogger log)
    {
        this.state = state;
        this.recorder = recorder;
        this.log = log.ForContext("Role", "coordinator");
        workers = new Participants(wholeShards: state.Options.Deterministic);
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
        if (round is not null && round.Age >= StallReportAfter * round.Batches.Count)
        {
            var parts = round.Parts.Where(p => !p.Done).Select(p => $"slot {p.Slot} from {p.NodeId}");
            log.Warning("Round {Round} (steps {First}-{Last}) has waited {Seconds:F0} s for {Waiting}", round.Round, round.Round,
                round.LastStep, round.Age.TotalSeconds, string.Join(", ", parts));
        }
        if (step is null || step.Age < StallReportAfter) return;
        var waiting = step.Pending.Select(p => p.Owner is null ? $"shard {p.Shard} (no free worker yet)" : $"shard {p.Shard} from {workers.NameOf(p.Owner)}");
        log.Warning("Step {Step} has waited {Seconds:F0} s for {Waiting}; deadline {Timeout} per shard",
            step.Step, step.Age.TotalSeconds, string.Join(", ", waiting), state.Options.StepTimeout);
    }

    private void WaitingForWorkers()
    {
        // The run starts once --workers worker actors have come, as a node lost just before the start counts as
        // one lost just after it: those present train (at least --min-workers), and replacements join when they
        // come. Otherwise nodes killed faster than new ones can start would hold the run before its first step for
        // ever, though the same churn a step later is only a node lost and replaced.
        Receive<RegisterWorker>(register => Guard(() =>
        {
            Accept(register);
            if (workers.ActorsSeen < state.Options.Workers || workers.Actors < state.Options.MinWorkers) return;
            Timers.Cancel(nameof(StillWaiting));
            log.Information("{Workers} workers registered on {Nodes} nodes; training from epoch {Epoch}, step {Step}",
                workers.Actors, workers.Count, state.Cursor.Epoch, state.Cursor.GlobalStep);
            if (workers.ActorsSeen > workers.Actors)
                log.Information("{Lost} of the {Expected} workers that came were lost before the start; training with the {Present} present",
                    workers.ActorsSeen - workers.Actors, workers.ActorsSeen, workers.Actors);
            Become(Training);
            NextStep();
        }));
        Receive<StopAtStepBoundary>(_ => Guard(() => { stopRequester = Sender; StopHere(); }));
        Receive<StillWaiting>(_ => log.Warning("Waiting for workers: {Registered} of {Expected} registered",
            workers.Actors, state.Options.Workers));
        // A node lost before the start is removed from those present; the run's end never depends on it again.
        Receive<Terminated>(gone => Guard(() => OnWorkerLost(gone.ActorRef)));
    }

    private void ReportPause() =>
        log.Warning("Paused at step {Step}: {Present} workers present, --min-workers is {MinWorkers}; waiting for workers to join",
            state.Cursor.GlobalStep, workers.Actors, state.Options.MinWorkers);

    private void Training()
    {
        Receive<StillWaiting>(_ => { if (paused) ReportPause(); });
        Receive<StopAtStepBoundary>(_ => Guard(() =>
        {
            stopRequester = Sender;
            if (step is null && round is null) StopHere(); // else once the step or round in flight is applied
        }));
        Receive<WatchStep>(_ => ReportStall());
        Receive<RegisterWorker>(register => Guard(() => { Accept(register); OfferWork(Sender); }));
        Receive<ShardGradient>(result => Guard(() => OnShardGradient(result)));
        Receive<ShardFailed>(failed => Guard(() => OnShardFailed(failed)));
        Receive<ShardDeadline>(deadline => Guard(() => OnDeadline(deadline)));
        Receive<RoundResult>(result => Guard(() => OnRoundResult(result)));
        Receive<RoundInnerArrived>(arrived => Guard(() => OnRoundInnerArrived(arrived)));
        Receive<RoundDeadline>(deadline => Guard(() => OnRoundDeadline(deadline)));
        Receive<Terminated>(gone => Guard(() => OnWorkerLost(gone.ActorRef)));
    }

    private void ClosingEpoch()
    {
        Receive<EpochClosed>(closed => Guard(() =>
        {
            // The state moves to the next epoch here, on the actor's thread, and is checkpointed there.
            state.StartNextEpoch();
            recorder.SaveCheckpoint(state);
            var m = closed.Metrics;
            log.Information("Epoch {Epoch} done: train loss {TrainLoss:F2}, test loss {TestLoss:F2} nats/image, {SamplesPerSecond:F0} samples/s over {TrainSeconds:F1} s",
                m.Epoch, m.TrainLoss, m.TestLoss, m.SamplesPerSecond, m.TrainSeconds);
            tally = new EpochTally();
            epochNodes = new NodeTally();
            if (state.Finished)
            {
                Finish();
                return;
            }
            if (stopRequester is not null)
            {
                StopHere();
                return;
            }
            Become(Training);
            NextStep();
        }));
        Receive<Status.Failure>(failure =>
        {
            // An epoch that ended in a run of skipped steps has a broken model, whose evaluation throws as its steps did.
            if (consecutiveSkips > 0) StopDiverged();
            else Fail(failure.Cause);
        });
        Receive<StopAtStepBoundary>(_ => stopRequester = Sender); // answered once the epoch is closed
        Receive<RegisterWorker>(register => Guard(() => Accept(register)));
        Receive<ShardGradient>(stale => { workers.Answered(Sender); stale.Gradient.Dispose(); });
        Receive<ShardFailed>(_ => workers.Answered(Sender));
        Receive<RoundResult>(stale => { workers.Answered(Sender); Discard(stale); });
        Receive<RoundInnerArrived>(stale => stale.Inner.Dispose());
        Receive<ShardDeadline>(_ => { });
        Receive<RoundDeadline>(_ => { });
        Receive<Terminated>(gone => Guard(() => OnWorkerLost(gone.ActorRef)));
    }

    private void Accept(RegisterWorker register)
    {
        bool added = workers.Register(Sender, register.WorkerId, register.Actors, register.Host); // a restarted one dropped what it held
        if (!added) DropRoundPart(Sender, "registered again"); // and its inner state
        Context.Watch(Sender);
        Sender.Tell(new WorkerAccepted(register.WorkerId, new SharedParameters(state.Parameters)));
        if (added) log.Information("Worker node {Worker} registered with {Actors} workers ({Registered} workers in all)",
            register.WorkerId, register.Actors, workers.Actors);
    }

    /// <summary>Starts the step at the cursor, or closes the epoch, or finishes the run.</summary>
    private void NextStep()
    {
        if (state.EpochComplete)
        {
            CloseEpoch();
            return;
        }
        if (workers.Actors < state.Options.MinWorkers)
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
            log.Information("Resuming at step {Step}: {Workers} workers present", state.Cursor.GlobalStep, workers.Actors);
        }
        var free = workers.Free();
        if (free.Count == 0)
        {
            log.Warning("No free worker for step {Step}; waiting for one to answer or join", state.Cursor.GlobalStep);
            return;
        }
        if (state.Outer is not null)
        {
            StartRound(free);
            return;
        }
        // Deterministic runs cut every batch into the same whole shards, whoever is there; the others cut one shard
        // per free participant, sized by its worker actors (it cuts its shard across them itself).
        var shards = state.Options.Deterministic
            ? ShardPlanner.Cut(state.NextBatch(), TrainingOptions.DeterministicShards, whole: true)
            : ShardPlanner.Cut(state.NextBatch(), free.Select(f => f.Actors).ToList());
        step = new StepInFlight(state.Cursor.GlobalStep, state.Cursor.Epoch, state.Cursor.StepInEpoch, shards);
        tally.Resume();
        for (int i = 0; i < shards.Count; i++) step.Queue(i);
        Distribute(); // shard i to free participant i: its size is that participant's share
    }

    /// <summary>Hands the shards waiting for an owner to participants with room, one each per round.</summary>
    private void Distribute()
    {
        bool gave = true;
        while (gave && step is not null && step.HasOrphans)
        {
            gave = false;
            foreach (var (participant, _) in workers.Free())
            {
                if (step.TakeOrphan() is not int shard) return;
                Send(shard, participant);
                gave = true;
            }
        }
    }

    private void Send(int shardIndex, IActorRef worker)
    {
        step!.Assign(shardIndex, worker);
        workers.Took(worker);
        worker.Tell(step.Shards[shardIndex]);
        Timers.StartSingleTimer(DeadlineKey(shardIndex), new ShardDeadline(step.Step, shardIndex), state.Options.StepTimeout);
    }

    private void OnShardGradient(ShardGradient result)
    {
        workers.Answered(Sender);
        if (step is null || !step.TryRecord(result))
        {
            log.Debug("Ignoring result for step {Step} shard {Shard} from {Worker}: stale or duplicate",
                result.Step, result.ShardIndex, result.WorkerId);
            result.Gradient.Dispose();
            OfferWork(Sender);
            return;
        }
        Timers.Cancel(DeadlineKey(result.ShardIndex));
        var (host, actors) = workers.Describe(Sender);
        foreach (var nodes in new[] { epochNodes, runNodes })
            nodes.Answered(result.WorkerId, host, actors, result.Cost, step.RoundTripMs(result.ShardIndex));
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
        long appliedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        foreach (var r in results)
            foreach (var nodes in new[] { epochNodes, runNodes })
                nodes.Waited(r.WorkerId, done.WaitedMs(r.ShardIndex, appliedAt));
        double lossSum = results.Sum(r => r.LossSum);
        int samples = results.Sum(r => r.SampleCount);
        bool applied = state.Apply(results);
        tally.Pause();
        string? skipReason = null;
        if (applied) tally.Add(samples);
        else
        {
            skipReason = "loss or gradient not finite";
            log.Error("Step {Step} skipped: its loss ({Loss}) or gradient is not finite; the parameters are unchanged", done.Step, lossSum);
        }
        step = null;
        EndStep(done, results.Select(r => r.WorkerId).ToList(), samples, lossSum, skipReason);
    }

    /// <summary>A worker could not compute its shard: the step cannot be computed, and is skipped like a non-finite one.</summary>
    private void OnShardFailed(ShardFailed failed)
    {
        workers.Answered(Sender);
        if (step is null || failed.Step != step.Step || failed.ShardIndex < 0 || failed.ShardIndex >= step.Shards.Count || step.IsDone(failed.ShardIndex))
        {
            OfferWork(Sender); // stale: a step already applied or skipped
            return;
        }
        var done = step;
        step = null;
        for (int i = 0; i < done.Shards.Count; i++) Timers.Cancel(DeadlineKey(i));
        var contributors = done.Completed.Select(r => r.WorkerId).Append(failed.WorkerId).ToList();
        done.DiscardResults();
        state.Skip();
        tally.Pause();
        string reason = $"{failed.WorkerId} could not compute shard {failed.ShardIndex}: {failed.Reason}";
        log.Error("Step {Step} skipped: {Reason}; the parameters are unchanged", done.Step, reason);
        EndStep(done, contributors, done.Shards.Sum(s => s.SampleIndices.Length), double.NaN, reason);
    }

    /// <summary>Records a step applied or skipped, checkpoints when due, and moves on (or stops a diverged run).</summary>
    private void EndStep(StepInFlight done, IReadOnlyList<string> contributors, int samples, double lossSum, string? skipReason)
    {
        recorder.RecordStep(new LedgerEntry(done.Step, done.Epoch, done.StepInEpoch, samples, contributors, done.ReassignedShards,
            Skipped: skipReason is not null, SkipReason: skipReason));
        Context.System.EventStream.Publish(new StepApplied(done.Step, done.Epoch, done.StepInEpoch, samples, lossSum,
            contributors, done.ReassignedShards));
        if (skipReason is null) LogProgress(done.Epoch, done.StepInEpoch, lossSum, samples, workers.ActorsOf(contributors));
        if (state.Cursor.GlobalStep % state.Options.CheckpointEvery == 0 && !state.EpochComplete)
            recorder.SaveCheckpointInBackground(state);
        MoveOn(applied: skipReason is null, done.Step);
    }

    /// <summary>
    /// After a step or round was recorded: stop a run whose updates keep failing (diverged), stop between steps when
    /// asked, or go on. <paramref name="firstStep"/> is where a run of failures began, for the message.
    /// </summary>
    private void MoveOn(bool applied, long firstStep)
    {
        if (applied) consecutiveSkips = 0;
        else if (consecutiveSkips++ == 0) firstSkipped = firstStep;
        if (consecutiveSkips >= DivergedAfterSkips)
        {
            StopDiverged();
            return;
        }
        if (stopRequester is not null && !state.EpochComplete)
        {
            // A round just applied whose inner states still arrive is checkpointed first: the stop waits for them
            // (they are right behind the changes), or for their node to be lost.
            if (pendingCheckpoint is null) StopHere();
            return;
        }
        NextStep();
    }

    /// <summary>Between two steps, on request: checkpoint where training stands and train no further.</summary>
    private void StopHere()
    {
        GiveUpPendingCheckpoint("when the run stopped");
        if (state.CanCheckpoint)
        {
            recorder.SaveCheckpoint(state);
            log.Information("Stopped at step {Step} on request; checkpoint written", state.Cursor.GlobalStep);
        }
        else
            log.Information("Stopped at step {Step} on request; no checkpoint written here: the nodes' inner optimizer states reach the coordinator only after rounds that end at a checkpoint, so a resume goes back to the newest one",
                state.Cursor.GlobalStep);
        LogNodeFigures();
        stopRequester?.Tell(Akka.Done.Instance);
        Become(Finished);
    }

    /// <summary>Too many steps in a row could not be applied: the run stops, with its checkpoints as they are.</summary>
    private void StopDiverged()
    {
        string message = $"loss diverged at step {firstSkipped}; try a lower --lr";
        log.Error("Training stopped: {Reason} ({Skips} steps in a row could not be applied; the ledger says why)", message, consecutiveSkips);
        Context.System.EventStream.Publish(new TrainingFinished(false, message));
        Become(Finished);
    }

    private void LogProgress(int epoch, int stepInEpoch, double lossSum, int samples, int workerCount)
    {
        if (!sinceLastLog.IsRunning) sinceLastLog.Start();
        samplesSinceLastLog += samples;
        if ((stepInEpoch + 1) % state.Options.LogEvery != 0) return;
        log.Information("Epoch {Epoch} step {StepInEpoch}/{StepsPerEpoch}: loss {Loss:F2}, {SamplesPerSecond:F0} samples/s, {Workers} workers",
            epoch, stepInEpoch + 1, state.StepsPerEpoch, lossSum / samples,
            samplesSinceLastLog / sinceLastLog.Elapsed.TotalSeconds, workerCount);
        samplesSinceLastLog = 0;
        sinceLastLog.Restart();
    }

    private void OnDeadline(ShardDeadline deadline)
    {
        if (step is null || step.Step != deadline.Step || step.IsDone(deadline.ShardIndex)) return;
        var late = step.OwnerOf(deadline.ShardIndex);
        log.Warning("Worker {Worker} missed the {Timeout} deadline for shard {Shard} of step {Step}; giving the shard to another worker",
            workers.NameOf(late), state.Options.StepTimeout, deadline.ShardIndex, deadline.Step);
        step.Orphan(deadline.ShardIndex);
        Distribute();
    }

    private void OnWorkerLost(IActorRef worker)
    {
        if (!workers.Remove(worker, out var id)) return;
        log.Warning("Worker node {Worker} left ({Remaining} workers remain)", id, workers.Actors);
        DropRoundPart(worker, "left");
        if (pendingCheckpoint is not null && StoppingBetweenRounds) StopHere(); // its inner state may have left with it
        if (step is null) return;
        foreach (int shard in step.PendingShardsOf(worker).ToList()) step.Orphan(shard);
        Distribute();
    }

    /// <summary>A participant has room again: it takes shards that lost their owner, or the next step starts if none is running.</summary>
    private void OfferWork(IActorRef worker)
    {
        if (!workers.HasRoom(worker) || round is not null) return; // a round's parts are given out at its start only
        if (step is null) NextStep();
        else Distribute();
    }

    // ---- Rounds (--sync-every H above 1): one round of up to H global steps, never across an epoch's end. ----

    /// <summary>
    /// Cuts the round's H global batches across the free nodes in slot order and sends each node its part: its shares
    /// of every batch, with how to start its inner Adam. The round returns the inner states when a checkpoint follows it.
    /// </summary>
    private void StartRound(IReadOnlyList<(IActorRef Participant, int Actors)> free)
    {
        var batches = redoBatches ?? state.NextBatches(Math.Min(state.Options.SyncEvery, state.StepsLeftInEpoch));
        redoBatches = null;
        var nodes = layout.Assign(free);
        var shares = RoundInFlight.Cut(batches, nodes.Select(n => n.Actors).ToList());
        long first = state.Cursor.GlobalStep, end = first + batches.Count;
        bool checkpointAfter = end / state.Options.CheckpointEvery != first / state.Options.CheckpointEvery
            || state.Cursor.StepInEpoch + batches.Count >= state.StepsPerEpoch;
        var parts = new List<RoundInFlight.Part>();
        for (int i = 0; i < nodes.Count && i < shares.Count; i++)
        {
            if (shares[i].Count == 0) continue; // fewer samples than nodes: only the first nodes get one
            var (slot, node, _) = nodes[i];
            var inner = layout.StartFor(slot, node, state.Inner, first, out bool fresh);
            if (fresh && first > 0)
                log.Information("Worker node {Worker} takes round slot {Slot} with a fresh inner optimizer (the slot's state was lost with its node)",
                    workers.NameOf(node), slot);
            parts.Add(new RoundInFlight.Part(slot, node, workers.NameOf(node),
                new ComputeRound(first, slot, shares[i], state.Options.LearningRate, inner, checkpointAfter)));
        }
        round = new RoundInFlight(state.Cursor.Epoch, state.Cursor.StepInEpoch, batches, parts);
        tally.Resume();
        foreach (var part in parts)
        {
            workers.Took(part.Node);
            part.Node.Tell(part.Message);
            Timers.StartSingleTimer(RoundDeadlineKey(part.Slot), new RoundDeadline(first, part.Slot), RoundTimeout(batches.Count));
        }
    }

    private void OnRoundResult(RoundResult result)
    {
        workers.Answered(Sender);
        if (round is null || !round.TryRecord(result, Sender))
        {
            log.Debug("Ignoring round {Round} slot {Slot} from {Worker}: stale or duplicate", result.Round, result.Slot, result.WorkerId);
            Discard(result);
            OfferWork(Sender);
            return;
        }
        Timers.Cancel(RoundDeadlineKey(result.Slot));
        var part = round.Parts.First(p => p.Result == result);
        var (host, actors) = workers.Describe(Sender);
        double roundTripMs = (part.AnsweredAt - part.SentAt) * 1000.0 / System.Diagnostics.Stopwatch.Frequency;
        foreach (var nodes in new[] { epochNodes, runNodes })
            nodes.Answered(result.WorkerId, host, actors, result.Cost, roundTripMs);
        EndRoundWhenReady(round);
    }

    /// <summary>
    /// A complete round is applied at once, even while inner states still follow its changes (they complete a
    /// checkpoint later: <see cref="PendingInnerCheckpoint"/>); only a round that ends the epoch waits for them, since
    /// the epoch's checkpoint is written before the run goes on.
    /// </summary>
    private void EndRoundWhenReady(RoundInFlight current)
    {
        if (!current.IsComplete) return;
        if (current.AwaitsInner && current.FirstStepInEpoch + current.Batches.Count >= state.StepsPerEpoch) return;
        EndRound(current);
    }

    /// <summary>A node's inner state, which followed its round's change: into the round still waiting for it, or the pending checkpoint.</summary>
    private void OnRoundInnerArrived(RoundInnerArrived arrived)
    {
        if (round is not null && round.TryAttachInner(arrived, Sender))
        {
            EndRoundWhenReady(round);
            return;
        }
        if (pendingCheckpoint is not { } pending || pending.Round != arrived.Round || !pending.TryAdd(arrived.Slot, arrived.Inner))
        {
            arrived.Inner.Dispose();
            return;
        }
        if (!pending.Complete) return;
        pendingCheckpoint = null;
        var (awaiting, inner) = pending.Take();
        state.Inner.Replace(pending.Step, inner);
        recorder.SaveInBackground(state.WithInner(awaiting, inner));
        if (StoppingBetweenRounds) StopHere();
    }

    /// <summary>A stop was asked for, the round in flight was applied, and the next one was not started.</summary>
    private bool StoppingBetweenRounds => stopRequester is not null && round is null && step is null && !state.EpochComplete;

    /// <summary>A checkpoint whose inner states did not all arrive before a newer one, or the run's end: the one before stays.</summary>
    private void GiveUpPendingCheckpoint(string why)
    {
        if (pendingCheckpoint is not { } pending) return;
        pendingCheckpoint = null;
        log.Information("Checkpoint of step {Step} not written: slot(s) {Slots}' inner state had not arrived {Why}; a resume starts from the one before",
            pending.Step, string.Join(", ", pending.Awaited), why);
        pending.Dispose();
    }

    private void OnRoundDeadline(RoundDeadline deadline)
    {
        if (round is null || round.Round != deadline.Round) return;
        var part = round.Parts.FirstOrDefault(p => p.Slot == deadline.Slot && !p.Done);
        if (part is null) return;
        log.Warning("Worker node {Worker} missed the {Timeout} deadline for its part of round {Round}", part.NodeId,
            RoundTimeout(round.Batches.Count), round.Round);
        Drop(part, "missed its deadline");
    }

    /// <summary>A node that leaves (or restarts) mid-round takes its part with it, and its slot's inner state.</summary>
    private void DropRoundPart(IActorRef node, string why)
    {
        layout.Forget(node);
        if (round?.PartOf(node) is { } part) Drop(part, why);
        else if (round is not null && round.GiveUpInnerOf(node)) EndRoundWhenReady(round);
    }

    /// <summary>
    /// The part's shares of the round's batches will not be learned from: the round averages the other nodes' changes
    /// (the ledger lists the shares as dropped). A round that loses every part is trained again from its start.
    /// </summary>
    private void Drop(RoundInFlight.Part part, string why)
    {
        var current = round!;
        part.Dropped = why;
        Timers.Cancel(RoundDeadlineKey(part.Slot));
        layout.Lost(part.Slot);
        log.Warning("Worker node {Worker} {Why} during round {Round}: its shares of steps {First}-{Last} ({Samples} samples) are dropped; the round averages the other nodes' changes",
            part.NodeId, why, current.Round, current.Round, current.LastStep, part.Message.SampleCount);
        if (!current.IsComplete) return;
        if (current.Parts.Any(p => p.Result is not null))
        {
            EndRound(current);
            return;
        }
        log.Warning("Round {Round} lost every node; training its steps {First}-{Last} again", current.Round, current.Round, current.LastStep);
        round = null;
        redoBatches = current.Batches;
        tally.Pause();
        NextStep();
    }

    /// <summary>
    /// Applies a complete round (the answered changes averaged, then the outer step), records each of its global steps
    /// in the ledger, keeps the inner states it brought back, checkpoints when due, and moves on.
    /// </summary>
    private void EndRound(RoundInFlight done)
    {
        round = null;
        long appliedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        var answered = done.Parts.Where(p => p.Result is not null).Select(p => p.Result!).ToList();
        foreach (var p in done.Parts.Where(p => p.Result is not null))
            foreach (var nodes in new[] { epochNodes, runNodes })
                nodes.Waited(p.NodeId, (appliedAt - p.AnsweredAt) * 1000.0 / System.Diagnostics.Stopwatch.Frequency);
        var steps = Enumerable.Range(0, done.Batches.Count).Select(done.StepAt).ToList();
        var inner = answered.Where(r => r.Inner is not null).Select(r => (r.Slot, r.Inner!)).ToList();
        var following = answered.Where(r => r.InnerFollows).Select(r => r.Slot).ToList();
        bool applied = state.ApplyRound(answered, steps);
        bool checkpointDue = done.Round / state.Options.CheckpointEvery != state.Cursor.GlobalStep / state.Options.CheckpointEvery
            && !state.EpochComplete;
        if (following.Count > 0)
        {
            // Copies of the boundary's state wait for the inner states still crossing the link; training moves on.
            GiveUpPendingCheckpoint("when the next checkpoint was due");
            pendingCheckpoint = new PendingInnerCheckpoint(done.Round, state.Cursor.GlobalStep,
                state.CaptureAwaitingInner(), following, inner);
            checkpointDue = false;
        }
        else if (inner.Count > 0) state.Inner.Replace(state.Cursor.GlobalStep, inner);
        tally.Pause();
        string? skipReason = applied ? null : "the round's averaged change is not finite";
        if (!applied)
        {
            layout.Reset();
            log.Error("Round {Round} skipped: {Reason}; the parameters are unchanged", done.Round, skipReason);
        }
        foreach (var s in steps)
        {
            bool skipped = skipReason is not null || s.Samples == 0;
            recorder.RecordStep(new LedgerEntry(s.Step, done.Epoch, s.StepInEpoch, s.Samples, s.Workers, [],
                Skipped: skipped, SkipReason: skipped ? skipReason ?? "no node's share of it could be learned from" : null,
                Round: done.Round, Dropped: s.DroppedShards.Count > 0 ? s.DroppedShards : null));
            Context.System.EventStream.Publish(new StepApplied(s.Step, done.Epoch, s.StepInEpoch, s.Samples, s.LossSum, s.Workers, []));
            if (!skipped)
            {
                tally.Add(s.Samples);
                LogProgress(done.Epoch, s.StepInEpoch, s.LossSum, s.Samples, workers.ActorsOf(s.Workers));
            }
        }
        if (checkpointDue && state.CanCheckpoint)
            recorder.SaveCheckpoint(state);
        MoveOn(applied, done.Round);
    }

    private static void Discard(RoundResult result)
    {
        result.Change.Dispose();
        result.Inner?.Dispose();
    }

    /// <summary>--step-timeout for each step of the round, at most a day (a timer further out overflows).</summary>
    private TimeSpan RoundTimeout(int steps) =>
        TimeSpan.FromTicks(Math.Min(state.Options.StepTimeout.Ticks * steps, TrainingOptions.MaxStepTimeout.Ticks));

    private static string RoundDeadlineKey(int slot) => $"round-deadline-{slot}";

    private void CloseEpoch()
    {
        GiveUpPendingCheckpoint("when the epoch ended");
        Become(ClosingEpoch);
        var epochTally = tally;
        int workerCount = workers.Actors;
        var nodeFigures = epochNodes.Figures();
        // The test noise is the run stream's, which only this thread draws from; evaluation and pictures then take a
        // while, off the mailbox (so stale results are still drained), and only read the parameters. The state itself
        // moves on when EpochClosed comes back.
        var testNoise = recorder.DrawTestNoise(state);
        Task.Run(() => new EpochClosed(recorder.CloseEpoch(state, testNoise, epochTally, workerCount, nodeFigures))).PipeTo(Self);
    }

    private void Finish()
    {
        GiveUpPendingCheckpoint("when the run finished");
        recorder.ExportModel(state);
        log.Information("Training complete after {Epochs} epochs ({Step} steps); model written to {Model}; parameters sha256 {ParametersSha256}",
            state.Options.Epochs, state.Cursor.GlobalStep, recorder.Directory.Model, ParameterDigest.Sha256(state.Parameters.Select(p => p.Tensor)));
        LogNodeFigures();
        Context.System.EventStream.Publish(new TrainingFinished(true, null));
        Become(Finished);
    }

    /// <summary>Where each worker node's time and bytes went over the whole run, one line per node.</summary>
    private void LogNodeFigures()
    {
        foreach (var n in runNodes.Figures())
            log.Information("Node {Node} on {Host}: {Workers} workers, {Shards} shards, {BytesSent} bytes sent to it and {BytesReceived} received, compute {ComputeMs:F0} ms, transfer {TransferMs:F0} ms, wait {WaitMs:F0} ms",
                n.Node, n.Host, n.Workers, n.Shards, n.BytesSent, n.BytesReceived, n.ComputeMs, n.TransferMs, n.WaitMs);
    }

    private void Finished()
    {
        Receive<ShardGradient>(stale => stale.Gradient.Dispose());
        Receive<RoundResult>(Discard);
        Receive<RoundInnerArrived>(stale => stale.Inner.Dispose());
        Receive<StopAtStepBoundary>(_ => Sender.Tell(Akka.Done.Instance));
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
        round?.DiscardResults();
        pendingCheckpoint?.Dispose();
        Context.System.EventStream.Publish(new TrainingFinished(false, error.Message));
        Context.Stop(Self);
    }
}
