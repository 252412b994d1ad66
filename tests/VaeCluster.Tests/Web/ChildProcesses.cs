using System.Diagnostics;
using System.Text;

namespace VaeCluster.Tests.Web;

/// <summary>
/// Programs a test starts (chromium, prometheus): each with a deadline, each killed with its children when the
/// test ends, whatever happened.
/// </summary>
public sealed class ChildProcesses : IDisposable
{
    private readonly List<Process> started = [];

    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    /// <summary>Runs a program to its end, or kills it at the deadline and fails.</summary>
    public Result Run(string file, IEnumerable<string> args, TimeSpan deadline)
    {
        var process = Start(file, args, out var stdout, out var stderr);
        if (!process.WaitForExit(deadline))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish in {deadline}:\n{stdout}\n{stderr}");
        }
        process.WaitForExit(); // the output readers are done
        return new Result(process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Starts a program that runs until the test kills it; its output is collected.</summary>
    public Process Start(string file, IEnumerable<string> args, out StringBuilder stdout, out StringBuilder stderr)
    {
        if (!File.Exists(file) && !Environment.GetEnvironmentVariable("PATH")!.Split(':').Any(d => File.Exists(Path.Combine(d, file))))
            throw new FileNotFoundException($"{file} is not installed; ./vae test installs it (Debian 12 package {file}), or run apt-get install -t bookworm {file}");
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        // The test host's tcmalloc preload is for TorchSharp, not for these programs.
        info.Environment.Remove("LD_PRELOAD");
        var process = new Process { StartInfo = info };
        var (output, errors) = (new StringBuilder(), new StringBuilder());
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (errors) errors.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (started) started.Add(process);
        (stdout, stderr) = (output, errors);
        return process;
    }

    public void Dispose()
    {
        lock (started)
            foreach (var p in started)
            {
                try
                {
                    if (!p.HasExited) p.Kill(entireProcessTree: true);
                    p.WaitForExit(TimeSpan.FromSeconds(10));
                }
                catch (InvalidOperationException) { /* never started, or already gone */ }
                p.Dispose();
            }
    }
}
