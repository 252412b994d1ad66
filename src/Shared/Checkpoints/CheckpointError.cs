namespace VaeCluster.Checkpoints;

/// <summary>
/// A model export or checkpoint file that cannot be used. The message is one line naming the file and the
/// problem, because it is shown to the operator as is (for example when resume skips a damaged checkpoint).
/// </summary>
public sealed class CheckpointError : Exception
{
    public string File { get; }
    public string Problem { get; }

    public CheckpointError(string file, string problem) : base($"{file}: {problem}")
    {
        File = file;
        Problem = problem;
    }

    public CheckpointError(string file, string problem, Exception inner) : base($"{file}: {problem}", inner)
    {
        File = file;
        Problem = problem;
    }
}
