using System.Diagnostics;

namespace VaeCluster.Tests.Deploy;

/// <summary>Runs a short tool (bash -n, shellcheck) and returns its exit code with stdout and stderr together.</summary>
public static class Shell
{
    public sealed record Result(int ExitCode, string Output);

    public static Result Run(string file, params string[] args) => Run(new Dictionary<string, string?>(), file, args);

    /// <summary>The same, with these environment variables set (a null value removes one).</summary>
    public static Result Run(IReadOnlyDictionary<string, string?> environment, string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = DeployFiles.Root };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment)
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(1)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in a minute");
        }
        return new Result(process.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>Whether a program is on PATH.</summary>
    public static bool Has(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, program)));
}
