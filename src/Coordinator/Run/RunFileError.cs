namespace VaeCluster.Coordinator.Run;

/// <summary>A file of a run directory that is missing or unreadable (no metrics yet, no logs, a corrupt line).</summary>
public sealed class RunFileError(string file, string problem) : FileProblem(file, problem);
