namespace VaeCluster.Data;

/// <summary>
/// A problem with a data file that the user has to fix. The CLI prints only <see cref="Exception.Message"/>
/// on one line, so <see cref="Problem"/> must read as advice to a person, not as a stack trace.
/// </summary>
public sealed class DataError : Exception
{
    public string File { get; }

    public string Problem { get; }

    public DataError(string file, string problem) : base($"{file}: {problem}")
    {
        File = file;
        Problem = problem;
    }

    public DataError(string file, string problem, Exception inner) : base($"{file}: {problem}", inner)
    {
        File = file;
        Problem = problem;
    }
}
