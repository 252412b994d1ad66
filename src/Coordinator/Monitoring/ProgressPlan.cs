namespace VaeCluster.Coordinator.Monitoring;

/// <summary>How long the run is: what a progress display measures the steps against.</summary>
public sealed record ProgressPlan(int Epochs, int StepsPerEpoch);
