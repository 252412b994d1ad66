namespace VaeCluster.Coordinator.Monitoring;

/// <summary>What a watcher must know of a run beyond its events.</summary>
/// <param name="LogEvery">steps per train-loss point, as the coordinator logs them (--log-every)</param>
/// <param name="PayloadBytes">bytes of one copy of the parameters: what a shard moves each way on the data plane;
/// 0 when the workers are actors of this process and tensors move by reference</param>
/// <param name="InProcessWorkers">whether the workers are actors of the coordinator's own node</param>
public sealed record WatchFacts(ProgressPlan Progress, int LogEvery, long PayloadBytes, bool InProcessWorkers)
{
    public string CoordinatorNode { get; init; } = "coordinator";
    public string CoordinatorHost { get; init; } = Environment.MachineName;
}
