namespace VaeCluster;

/// <summary>
/// A file the user has to fix or replace. The CLI prints only <see cref="Exception.Message"/>, on one line,
/// so <see cref="Problem"/> must read as advice to a person, not as a stack trace.
/// </summary>
public abstract class FileProblem : Exception
{
    public string File { get; }
    public string Problem { get; }

    protected FileProblem(string file, string problem, Exception? inner = null) : base($"{file}: {problem}", inner)
    {
        File = file;
        Problem = problem;
    }
}
