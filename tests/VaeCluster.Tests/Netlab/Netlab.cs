using System.Diagnostics;
using VaeCluster.Tests.Deploy;

namespace VaeCluster.Tests.Netlab;

/// <summary>
/// A lab of deploy/netlab.sh: machines as network namespaces, each with its own hostname and /dev/shm, on a switch of
/// their own. Disposing it kills every process in it and removes it; labs left by an earlier test run that was killed
/// (their owner process is gone) are removed when the next one starts.
/// </summary>
public sealed class Netlab : IDisposable
{
    private static int labs;

    private Netlab(string name, IReadOnlyList<(string Hostname, string Address)> machines)
    {
        Name = name;
        Machines = machines;
    }

    public static string Script => Path.Combine(DeployFiles.Root, "deploy", "netlab.sh");

    /// <summary>Why labs cannot run here (not root, no network namespaces), or null when they can.</summary>
    public static string? WhyUnavailable { get; } = Check();

    public string Name { get; }

    /// <summary>Machine n (1-based) is Machines[n - 1].</summary>
    public IReadOnlyList<(string Hostname, string Address)> Machines { get; }

    public string Address(int machine) => Machines[machine - 1].Address;

    public string Hostname(int machine) => Machines[machine - 1].Hostname;

    /// <param name="rate">a tc rate for every machine's link (1gbit, 100mbit), or null for unshaped links</param>
    public static Netlab Up(int machines, string? rate = null)
    {
        Run("prune");
        string name = $"t{Environment.ProcessId}-{Interlocked.Increment(ref labs)}";
        var up = Run(["up", name, $"{machines}", "--owner", $"{Environment.ProcessId}", .. rate is null ? Array.Empty<string>() : ["--rate", rate]]);
        var list = up.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).Select(w => (w[0], w[1])).ToList();
        return new Netlab(name, list);
    }

    /// <summary>
    /// Starts a command on a machine, as a user there would; its output is redirected for the caller to read. The
    /// caller owns the process object; the process itself ends with the lab at the latest.
    /// </summary>
    public Process Start(int machine, string workingDirectory, IEnumerable<string> command, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(Script) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["exec", Name, $"{machine}", .. command]) start.ArgumentList.Add(a);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;
        return Process.Start(start)!;
    }

    /// <summary>Pulls (false) or plugs back (true) a machine's cable: packets to and from it are lost silently meanwhile.</summary>
    public void Link(int machine, bool up) => Run("link", Name, $"{machine}", up ? "up" : "down");

    public void Dispose() => Run("down", Name);

    private static string Run(params string[] args)
    {
        var start = new ProcessStartInfo(Script) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"netlab.sh {string.Join(' ', args)} did not finish in 60 s");
        }
        if (process.ExitCode != 0) throw new InvalidOperationException($"netlab.sh {string.Join(' ', args)} failed: {stderr.Result}{stdout.Result}");
        return stdout.Result;
    }

    private static string? Check()
    {
        if (!OperatingSystem.IsLinux()) return "needs Linux network namespaces";
        try
        {
            Run("check");
            return null;
        }
        catch (InvalidOperationException e)
        {
            return e.Message.Trim();
        }
    }
}

/// <summary>A test that needs a lab: skipped, saying why, where labs cannot run (not root, no network namespaces).</summary>
public sealed class NetlabFactAttribute : Xunit.FactAttribute
{
    public NetlabFactAttribute()
    {
        if (Netlab.WhyUnavailable is { } why) Skip = $"network test bed unavailable: {why}";
    }
}
