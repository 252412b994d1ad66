using VaeCluster.Protocol;

namespace VaeCluster.Coordinator.Monitoring;

/// <summary>
/// The state behind the dashboard and the metrics, fed with the coordinator's StepApplied events and its log's run
/// events; kept apart from the actor that owns it so that it can be checked without one. Loss, speed and time
/// left come from the same <see cref="TrainingProgress"/> as the terminal's progress bar.
/// </summary>
public sealed class WatchedRun(WatchFacts facts)
{
    private const int MaxEvents = 50, MaxLossPoints = 2000;
    private static readonly TimeSpan Active = TimeSpan.FromSeconds(5);

    private readonly TrainingProgress progress = new(facts.Progress);
    private readonly Dictionary<string, WorkerTally> workers = new();
    private readonly Queue<RunEvent> events = new();
    private readonly List<LossPoint> trainLoss = [];
    private readonly List<EpochPoint> testLoss = [];
    private readonly long[] stepCounts = new long[StepHistogram.DefaultBounds.Count + 1];
    private double stepSecondsSum;
    private long stepsApplied, samples, skipped, reassigned, checkpoints;
    private string phase = "waiting for workers";
    private string? error;
    private StepApplied? last;
    private TimeSpan? lastAt;
    private int? pictures;
    // The current loss point: the steps since the previous one, and the clock over those after its first step.
    private double pointLossSum;
    private long pointSamples, rateSamples;
    private TimeSpan? rateStart;

    /// <returns>a new train-loss point when this step closes one (every --log-every steps and at an epoch's end)</returns>
    public LossPoint? Record(StepApplied step, TimeSpan at)
    {
        bool sameEpoch = last?.Epoch == step.Epoch;
        if (sameEpoch && lastAt is { } previous) Observe((at - previous).TotalSeconds);
        if (!sameEpoch) rateStart = null;
        progress.Record(step, at);
        last = step;
        lastAt = at;
        stepsApplied++;
        samples += step.SampleCount;
        reassigned += step.ReassignedShards.Count;
        foreach (var id in step.Workers)
        {
            var w = Tally(id);
            w.Shards++;
            w.LastSeen = at;
        }
        if (phase is not ("finished" or "failed")) phase = step.StepInEpoch + 1 == facts.Progress.StepsPerEpoch ? "evaluating" : "training";
        return ClosePoint(step, at);
    }

    /// <returns>the epoch's losses when the event closes an epoch</returns>
    public EpochPoint? Record(RunEvent e)
    {
        events.Enqueue(e);
        while (events.Count > MaxEvents) events.Dequeue();
        if (e.Worker is { } id && e.Kind is RunEventKind.Join or RunEventKind.Leave)
        {
            var w = Tally(id);
            if (e.Kind == RunEventKind.Join)
            {
                w.Left = false;
                if (e.Remote is { } remote) w.Host = HostOf(remote);
            }
            else if (e.Kind == RunEventKind.Leave) w.Left = true;
        }
        switch (e.Kind)
        {
            case RunEventKind.Skip: skipped++; break;
            case RunEventKind.Checkpoint: checkpoints++; break;
            case RunEventKind.Pause when phase is not ("finished" or "failed"): phase = "paused"; break;
            case RunEventKind.Resume when phase == "paused": phase = "training"; break;
            case RunEventKind.Epoch when e.Epoch is { } figures:
                pictures = figures.Epoch;
                if (phase == "evaluating") phase = "training";
                var point = new EpochPoint(figures.Epoch, last?.GlobalStep + 1 ?? 0, figures.TrainLoss, figures.TestLoss);
                testLoss.Add(point);
                return point;
        }
        return null;
    }

    public void Record(TrainingFinished finished)
    {
        phase = finished.Succeeded ? "finished" : "failed";
        error = finished.Error;
    }

    public RunStatus Snapshot(TimeSpan at, DateTimeOffset now)
    {
        var p = progress.Snapshot();
        var present = workers.Values.Count(w => !w.Left);
        return new RunStatus(
            phase, now, p?.Epoch ?? 0, facts.Progress.Epochs, p?.StepsDone ?? 0, facts.Progress.StepsPerEpoch,
            last?.GlobalStep + 1 ?? 0, p?.RunStepsDone ?? 0, p?.RunSteps ?? (long)facts.Progress.Epochs * facts.Progress.StepsPerEpoch,
            p?.Loss, p?.SamplesPerSecond, p?.Remaining?.TotalSeconds,
            present > 0 ? present : p?.Workers ?? 0,
            new RunCounters(stepsApplied, samples, skipped, reassigned, checkpoints),
            new StepHistogram(StepHistogram.DefaultBounds, stepCounts.ToArray(), stepSecondsSum, stepCounts.Sum()),
            trainLoss.ToArray(), testLoss.ToArray(), Nodes(at), events.ToArray(), pictures, error);
    }

    private LossPoint? ClosePoint(StepApplied step, TimeSpan at)
    {
        pointLossSum += step.LossSum;
        pointSamples += step.SampleCount;
        if (rateStart is null) rateStart = at; // this step's samples were computed before the clock started
        else rateSamples += step.SampleCount;
        bool logged = (step.StepInEpoch + 1) % facts.LogEvery == 0 || step.StepInEpoch + 1 == facts.Progress.StepsPerEpoch;
        if (!logged || pointSamples == 0) return null;
        double seconds = (at - rateStart.Value).TotalSeconds;
        var point = new LossPoint(step.GlobalStep + 1, pointLossSum / pointSamples, seconds > 0 ? rateSamples / seconds : null);
        (pointLossSum, pointSamples, rateSamples, rateStart) = (0, 0, 0, at);
        trainLoss.Add(point);
        // A long run keeps every other point once the chart is full: the whole curve stays, at half the detail.
        if (trainLoss.Count > MaxLossPoints)
            for (int i = trainLoss.Count - 2; i > 0; i -= 2) trainLoss.RemoveAt(i);
        return point;
    }

    private void Observe(double seconds)
    {
        int bucket = 0;
        while (bucket < StepHistogram.DefaultBounds.Count && seconds > StepHistogram.DefaultBounds[bucket]) bucket++;
        stepCounts[bucket]++;
        stepSecondsSum += seconds;
    }

    private List<NodeRow> Nodes(TimeSpan at) => workers
        .GroupBy(w => w.Value.Node)
        .Select(node =>
        {
            var members = node.OrderBy(w => w.Key, StringComparer.Ordinal).ToList();
            var states = members.Select(w => StateOf(w.Value, at)).ToList();
            string state = states.Contains("training") ? "training" : states.All(s => s == "left") ? "left" : states[0];
            long shards = members.Sum(w => w.Value.Shards);
            var seen = members.Select(w => w.Value.LastSeen).Where(t => t is not null).Max();
            return new NodeRow(node.Key, members[0].Value.Host, members.Select(w => w.Key).ToList(), state, shards,
                shards * facts.PayloadBytes, shards * facts.PayloadBytes, seen is { } s ? Math.Round((at - s).TotalSeconds, 1) : null);
        })
        .OrderBy(n => n.Node, StringComparer.Ordinal)
        .ToList();

    private static string StateOf(WorkerTally w, TimeSpan at) =>
        w.Left ? "left" : w.LastSeen is { } seen && at - seen < Active ? "training" : w.Shards == 0 ? "joined" : "idle";

    private WorkerTally Tally(string id)
    {
        if (!workers.TryGetValue(id, out var w))
            workers[id] = w = facts.InProcessWorkers ? new WorkerTally(facts.CoordinatorNode, facts.CoordinatorHost) : new WorkerTally(id, "?");
        return w;
    }

    /// <summary>"10.0.0.5:41234" or "[::1]:41234" → the address part.</summary>
    private static string HostOf(string endpoint)
    {
        int colon = endpoint.LastIndexOf(':');
        return (colon > 0 ? endpoint[..colon] : endpoint).Trim('[', ']');
    }

    private sealed class WorkerTally(string node, string host)
    {
        public string Node { get; } = node;
        public string Host { get; set; } = host;
        public long Shards { get; set; }
        public TimeSpan? LastSeen { get; set; }
        public bool Left { get; set; }
    }
}
