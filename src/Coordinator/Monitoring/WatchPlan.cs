namespace VaeCluster.Coordinator.Monitoring;

/// <summary>What a host hands to <see cref="TrainingMonitors.Start"/>: the run's facts, the board the web server
/// reads, the tap on the coordinator's log, and where TensorBoard's files and the run's pictures are.</summary>
public sealed record WatchPlan(
    WatchFacts Facts, RunStatusBoard Board, CoordinatorLogTap Tap,
    string TensorBoardDirectory, string SamplesPicture, string ReconstructionsPicture);
