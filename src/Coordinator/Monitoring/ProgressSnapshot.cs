namespace VaeCluster.Coordinator.Monitoring;

/// <summary>What a progress display shows at one moment.</summary>
/// <param name="StepsDone">steps applied in the current epoch</param>
/// <param name="Loss">nats per image over the recent steps</param>
/// <param name="SamplesPerSecond">over the recent steps of this epoch; null until there are two</param>
/// <param name="StepsPerSecond">over the same recent steps; null until there are two</param>
/// <param name="Workers">workers that computed the last step</param>
/// <param name="ReassignedShards">shards given to another worker after a missed deadline, since the display began</param>
public sealed record ProgressSnapshot(
    int Epoch, int Epochs, int StepsDone, int StepsPerEpoch, double Loss, double? SamplesPerSecond, double? StepsPerSecond, int Workers, int ReassignedShards)
{
    /// <summary>Steps done in the whole run, counting the epochs before this one as complete.</summary>
    public long RunStepsDone => (long)(Epoch - 1) * StepsPerEpoch + StepsDone;

    public long RunSteps => (long)Epochs * StepsPerEpoch;

    /// <summary>Training time left at the current speed (the evaluation at each epoch's end not included).</summary>
    public TimeSpan? Remaining => StepsPerSecond is > 0 and var rate ? TimeSpan.FromSeconds((RunSteps - RunStepsDone) / rate) : null;
}
