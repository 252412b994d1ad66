using VaeCluster.Coordinator.Run;

namespace VaeCluster.Coordinator.Cli;

/// <summary>A problem the user can fix: reported as one line on stderr with a non-zero exit, never a stack trace.</summary>
public sealed class UserError(string message) : Exception(message)
{
    public const int ExitCode = 2;

    /// <summary>Exit code of a command the machine failed (a full disk, a file it may not write): the input was fine.</summary>
    public const int FailedExitCode = 1;

    /// <summary>
    /// Runs a command body, turning known user-facing failures into one line and exit code 2, and failures of the
    /// machine's files (a full disk, a lost permission) into one line and exit code 1: their message says what and
    /// where, and a stack trace would only bury it. Anything else is a bug, and keeps its stack trace.
    /// </summary>
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
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return FailedExitCode;
        }
    }
}
