using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using VaeCluster.Tests.EndToEnd;

namespace VaeCluster.Tests.Web;

/// <summary>
/// A training run a test starts with --http 127.0.0.1:0 (any free port): where its dashboard is, its status,
/// and its end: the process and its worker processes are killed when the test is done with it.
/// </summary>
public sealed class LiveRun : IDisposable
{
    private readonly Process process;
    private readonly StringBuilder output;

    private LiveRun(Process process, StringBuilder output, string url)
    {
        this.process = process;
        this.output = output;
        Url = url;
    }

    public string Url { get; }
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(10) };
    public string Output { get { lock (output) return output.ToString(); } }

    public static LiveRun Start(string work, params string[] args)
    {
        var process = CliProcess.Start(work, [.. args, "--http", "127.0.0.1:0"]);
        var output = new StringBuilder();
        var url = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Collect(StreamReader reader) => Task.Run(async () =>
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                lock (output) output.AppendLine(line);
                if (Regex.Match(line, @"Dashboard at (http://\S+/)") is { Success: true } m) url.TrySetResult(m.Groups[1].Value);
            }
        });
        Collect(process.StandardOutput);
        Collect(process.StandardError);
        if (!url.Task.Wait(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            lock (output) throw new TimeoutException($"no dashboard address within 60 s:\n{output}");
        }
        return new LiveRun(process, output, url.Task.Result);
    }

    public async Task<JsonElement> Status() =>
        JsonDocument.Parse(await Http.GetStringAsync(Url + "api/status")).RootElement;

    /// <summary>Polls /api/status until <paramref name="condition"/> holds, or fails at the deadline.</summary>
    public async Task<JsonElement> WaitFor(Func<JsonElement, bool> condition, TimeSpan deadline, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var status = await Status();
            if (condition(status)) return status;
            if (clock.Elapsed > deadline) throw new TimeoutException($"{what}: not within {deadline}; last status {status}");
            await Task.Delay(200);
        }
    }

    public void Dispose()
    {
        Http.Dispose();
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.WaitForExit(TimeSpan.FromSeconds(15));
        }
        catch (InvalidOperationException) { /* already gone */ }
        process.Dispose();
    }
}
