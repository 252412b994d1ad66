namespace VaeCluster.Coordinator.Monitoring;

/// <summary>
/// Everything the dashboard, /api/status and /metrics show, at one moment. Immutable: the watcher actor builds a
/// new one and web requests on other threads read whichever is current.
/// </summary>
/// <param name="Phase">starting, waiting for workers, training, paused, evaluating, finished or failed</param>
/// <param name="Loss">nats per image over the last seconds of steps (null before the first step)</param>
/// <param name="RemainingSeconds">training time left at the current speed</param>
/// <param name="Pictures">the epoch whose sample and reconstruction pictures are on disk (null before the first)</param>
public sealed record RunStatus(
    string Phase, DateTimeOffset At, int Epoch, int Epochs, int StepInEpoch, int StepsPerEpoch,
    long GlobalStep, long RunStepsDone, long RunSteps, double? Loss, double? SamplesPerSecond, double? RemainingSeconds,
    int Workers, RunCounters Counters, StepHistogram StepSeconds,
    IReadOnlyList<LossPoint> TrainLoss, IReadOnlyList<EpochPoint> TestLoss,
    IReadOnlyList<NodeRow> Nodes, IReadOnlyList<RunEvent> Events, int? Pictures, string? Error)
{
    public static RunStatus Starting(int epochs, int stepsPerEpoch) => new(
        "starting", DateTimeOffset.Now, 0, epochs, 0, stepsPerEpoch, 0, 0, (long)epochs * stepsPerEpoch, null, null, null,
        0, new RunCounters(0, 0, 0, 0, 0), StepHistogram.Empty, [], [], [], [], null, null);

    /// <summary>Ready to train, or training: what a readiness probe asks.</summary>
    public bool Ready => Phase is "waiting for workers" or "training" or "paused" or "evaluating";
}

/// <summary>Counts since this process started (a resumed run counts afresh, as Prometheus counters may).</summary>
public sealed record RunCounters(long StepsApplied, long Samples, long StepsSkipped, long ShardsReassigned, long Checkpoints);

/// <summary>Train loss and speed over the steps since the previous point (one point per logged step).</summary>
public sealed record LossPoint(long Step, double Loss, double? SamplesPerSecond);

/// <summary>An epoch's losses, as closed by the coordinator.</summary>
public sealed record EpochPoint(int Epoch, long Step, double TrainLoss, double TestLoss);

/// <summary>
/// A node of the run and its worker actors. In one process every worker is an actor of the coordinator's node; in a
/// cluster each worker is a node of its own.
/// </summary>
/// <param name="BytesIn">data-plane bytes received from this node (gradients); 0 in one process, where tensors move by reference</param>
/// <param name="BytesOut">data-plane bytes sent to it (parameters)</param>
/// <param name="LastSeenSecondsAgo">since one of its shards was last applied (null before the first)</param>
public sealed record NodeRow(
    string Node, string Host, IReadOnlyList<string> Workers, string State, long Shards, long BytesIn, long BytesOut, double? LastSeenSecondsAgo);

/// <summary>A Prometheus-style histogram: counts per upper bound (not cumulative), their sum and count.</summary>
public sealed record StepHistogram(IReadOnlyList<double> Bounds, IReadOnlyList<long> Counts, double Sum, long Count)
{
    public static readonly IReadOnlyList<double> DefaultBounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    public static StepHistogram Empty { get; } = new(DefaultBounds, new long[DefaultBounds.Count + 1], 0, 0);
}
