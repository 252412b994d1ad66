using VaeCluster.Protocol;

namespace VaeCluster.Coordinator.Monitoring;

/// <summary>
/// The state behind a progress display, fed with the coordinator's StepApplied events; kept apart from any
/// rendering so that it can be checked without a terminal. Speed and loss are taken over the last few seconds
/// of steps, and start afresh with each epoch, so the pause for evaluation at an epoch's end never counts.
/// </summary>
public sealed class TrainingProgress(ProgressPlan plan, TimeSpan window)
{
    private readonly Queue<(TimeSpan At, int Samples, double LossSum)> recent = new();
    private StepApplied? last;
    private int reassigned;

    public TrainingProgress(ProgressPlan plan) : this(plan, TimeSpan.FromSeconds(3)) { }

    /// <param name="at">when the step was seen, on any steadily running clock</param>
    public void Record(StepApplied step, TimeSpan at)
    {
        if (last is not null && last.Epoch != step.Epoch) recent.Clear();
        last = step;
        reassigned += step.ReassignedShards.Count;
        recent.Enqueue((at, step.SampleCount, step.LossSum));
        while (recent.Count > 2 && at - recent.Peek().At > window) recent.Dequeue();
    }

    /// <returns>null before the first step</returns>
    public ProgressSnapshot? Snapshot()
    {
        if (last is null) return null;
        var (first, newest) = (recent.Peek(), recent.Last());
        double seconds = (newest.At - first.At).TotalSeconds;
        // The oldest step's samples were computed before the window began: the rate counts the ones after it.
        double? rate = recent.Count > 1 && seconds > 0 ? recent.Skip(1).Sum(r => r.Samples) / seconds : null;
        double? stepRate = recent.Count > 1 && seconds > 0 ? (recent.Count - 1) / seconds : null;
        double loss = recent.Sum(r => r.LossSum) / Math.Max(1, recent.Sum(r => r.Samples));
        return new ProgressSnapshot(last.Epoch, plan.Epochs, last.StepInEpoch + 1, plan.StepsPerEpoch, loss, rate, stepRate,
            last.Workers.Distinct().Count(), reassigned);
    }
}
