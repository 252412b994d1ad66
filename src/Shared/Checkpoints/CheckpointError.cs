namespace VaeCluster.Checkpoints;

/// <summary>
/// A model export or checkpoint file that cannot be used (shown as is, e.g. when resume skips a damaged one).
/// </summary>
public sealed class CheckpointError(string file, string problem, Exception? inner = null) : FileProblem(file, problem, inner);
