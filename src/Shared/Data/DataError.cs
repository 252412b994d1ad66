namespace VaeCluster.Data;

/// <summary>A data file (MNIST IDX) that cannot be used.</summary>
public sealed class DataError(string file, string problem, Exception? inner = null) : FileProblem(file, problem, inner);
