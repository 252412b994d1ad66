using System.Diagnostics;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>Runs the real CLI (vae.dll, built beside the tests) as a separate process.</summary>
public static class CliProcess
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    public static string Cli => Path.Combine(AppContext.BaseDirectory, "vae.dll");

    public static Result Run(string workingDirectory, params string[] args) => Run(workingDirectory, [], args);

    /// <summary>Runs the CLI with these variables added to its environment.</summary>
    public static Result Run(string workingDirectory, (string Name, string Value)[] environment, params string[] args)
    {
        using var process = Start(workingDirectory, environment, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"vae {string.Join(' ', args)} did not finish in 5 minutes");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts the CLI without waiting; the caller reads its redirected output and disposes it.</summary>
    public static Process Start(string workingDirectory, params string[] args) => Start(workingDirectory, [], args);

    private static Process Start(string workingDirectory, (string Name, string Value)[] environment, string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Cli);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["VAE_MNIST_DIR"] = TestData.MnistDir;
        foreach (var (name, value) in environment) start.Environment[name] = value;
        return Process.Start(start)!;
    }
}

/// <summary>Where MNIST is: ./vae test fetches it and exports VAE_MNIST_DIR; otherwise the repository's data/mnist.</summary>
public static class TestData
{
    public static string MnistDir { get; } = Environment.GetEnvironmentVariable("VAE_MNIST_DIR") is { Length: > 0 } dir
        ? dir
        : Path.Combine(RepositoryRoot(), "data", "mnist");

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "VaeCluster.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("repository root not found above " + AppContext.BaseDirectory);
    }
}
