using VaeCluster.Coordinator.Run;

namespace VaeCluster.Coordinator.Cli;

/// <summary>A problem the user can fix: reported as one line on stderr with a non-zero exit, never a stack trace.</summary>
public sealed class UserError(string message) : Exception(message)
{
    public const int ExitCode = 2;

    /// <summary>Runs a command body, turning known user-facing failures into one line and exit code 2.</summary>
    public static async Task<int> Report(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (Exception e) when (e is UserError or FileProblem or RunDirectoryInUse)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return ExitCode;
        }
    }
}
