using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using VaeCluster.Tests.EndToEnd;
using Xunit;

namespace VaeCluster.Tests.Web;

/// <summary>
/// The dashboard of a real run, seen by real clients: headless Chromium, a Prometheus server, plain HTTP probes;
/// TensorBoard's file after a run; and bad --http values.
/// </summary>
[Collection(CommandEndToEndCollection.Name)]
public sealed class DashboardEndToEndTests : IDisposable
{
    /// <summary>Long enough to outlast every check (the test kills it): 50 epochs of 100 steps.</summary>
    private static readonly string[] LongRun = ["train", "--run", "r", "--epochs", "50", "--train-limit", "12800", "--log-every", "10"];
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    private readonly string work = Directory.CreateTempSubdirectory("vae-web-").FullName;
    private readonly ChildProcesses children = new();

    [Fact]
    public async Task Should_show_the_current_step_and_loss_in_a_real_browser_and_keep_updating()
    {
        using var run = LiveRun.Start(work, LongRun);
        await run.WaitFor(s => s.GetProperty("trainLoss").GetArrayLength() > 1, Deadline, "two train-loss points");

        var dom = children.Run("chromium", Chromium("--dump-dom", run.Url), Deadline).StdOut;
        long step = long.Parse(Regex.Match(dom, "<span id=\"step\"[^>]*>(\\d+)</span>").Groups[1].Value);
        double loss = double.Parse(Regex.Match(dom, "<span id=\"loss\">([0-9.]+)</span>").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(step, 11, 5000);
        Assert.InRange(loss, 50, 600); // nats per image, from ~540 at the start down to ~100
        Assert.Matches("id=\"phase\"[^>]*>(training|evaluating)<", dom);
        Assert.Contains(">local<", dom); // the nodes table: in one process, the one node "local" (its pool of workers)

        var screenshot = Path.Combine(work, "dashboard.png");
        children.Run("chromium", Chromium($"--screenshot={screenshot}", run.Url), Deadline);
        var png = File.ReadAllBytes(screenshot);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, png[..4]);
        Assert.True(png.Length > 30_000, $"a {png.Length}-byte screenshot looks empty"); // charts, tables and text drawn

        // The page's live feed: each Server-Sent Event carries a later step than the one before.
        using var events = new StreamReader(await run.Http.GetStreamAsync(run.Url + "events"));
        using var deadline = new CancellationTokenSource(Deadline);
        long first = await NextStep(events, deadline.Token), later;
        do later = await NextStep(events, deadline.Token); while (later == first);
        Assert.True(later > first && first >= step, $"steps {step}, then {first}, then {later}");
    }

    [Fact]
    public async Task Should_be_scraped_by_a_real_prometheus_with_rising_steps()
    {
        using var run = LiveRun.Start(work, LongRun);
        int port = FreePort();
        var config = Path.Combine(work, "prometheus.yml");
        File.WriteAllText(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: vae
                static_configs:
                  - targets: ['{new Uri(run.Url).Authority}']
            """);
        children.Start("prometheus", [$"--config.file={config}", $"--storage.tsdb.path={Path.Combine(work, "tsdb")}",
            $"--web.listen-address=127.0.0.1:{port}"], out _, out var log);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var seen = new List<double>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (seen.Count < 2 || seen[^1] <= seen[0])
        {
            Assert.True(clock.Elapsed < Deadline, $"Prometheus saw {string.Join(", ", seen)} within {Deadline}:\n{log}");
            await Task.Delay(1000);
            try
            {
                var answer = JsonDocument.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/api/v1/query?query=vae_steps_applied_total")).RootElement;
                var result = answer.GetProperty("data").GetProperty("result");
                if (result.GetArrayLength() == 1)
                    seen.Add(double.Parse(result[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (HttpRequestException) { /* Prometheus is still starting */ }
        }
        Assert.True(seen[0] > 0, $"first scraped value {seen[0]}");
    }

    [Fact]
    public async Task Should_answer_health_and_readiness_in_cluster_mode_and_show_the_worker_nodes()
    {
        using var run = LiveRun.Start(work, [.. LongRun, "--cluster", "--workers", "1"]);
        await run.WaitFor(s => s.GetProperty("globalStep").GetInt64() > 10, Deadline, "cluster training");

        Assert.Equal(HttpStatusCode.OK, (await run.Http.GetAsync(run.Url + "healthz")).StatusCode);
        var ready = await run.Http.GetAsync(run.Url + "readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Matches("training|evaluating", await ready.Content.ReadAsStringAsync());

        var node = Assert.Single((await run.Status()).GetProperty("nodes").EnumerateArray());
        Assert.Equal(("worker-1", "127.0.0.1"), (node.GetProperty("node").GetString(), node.GetProperty("host").GetString()));
        Assert.True(node.GetProperty("bytesIn").GetInt64() > 0);
        Assert.Matches("vae_data_plane_bytes_total\\{node=\"worker-1\",direction=\"in\"\\} [1-9]", await run.Http.GetStringAsync(run.Url + "metrics"));
    }

    [Fact]
    public void Should_write_tensorboard_scalars_and_pictures_that_read_back()
    {
        var result = CliProcess.Run(work, "train", "--run", "r", "--epochs", "1", "--train-limit", "1280", "--log-every", "2", "--http", "off");
        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        Assert.DoesNotContain("Dashboard at", result.StdOut);

        var file = Assert.Single(Directory.GetFiles(Path.Combine(work, "r", "tensorboard"), "events.out.tfevents.*"));
        var values = TensorBoardEventFile.Read(file);
        Assert.Equal([2L, 4, 6, 8, 10], values.Where(v => v.Tag == "train/loss").Select(v => v.Step));
        Assert.All(values.Where(v => v.Tag is "train/loss" or "test/loss"), v => Assert.InRange(v.Scalar!.Value, 50f, 600f));
        Assert.Contains(values, v => v.Tag == "train/samples_per_s" && v.Scalar > 0);
        Assert.Equal(10, values.Single(v => v.Tag == "test/loss").Step);
        foreach (var picture in new[] { "samples", "reconstructions" })
            Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, values.Single(v => v.Tag == picture).Png![..4]);
    }

    [Theory]
    [InlineData("nonsense", "expects HOST:PORT")]
    [InlineData("127.0.0.1:99999", "from 0 to 65535")]
    [InlineData("TAKEN", "the port is taken")]
    public void Should_refuse_a_bad_or_taken_address_in_one_line_and_write_nothing(string http, string problem)
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        if (http == "TAKEN") http = $"127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}";

        var result = CliProcess.Run(work, "train", "--run", "r", "--train-limit", "1280", "--http", http);

        Assert.NotEqual(0, result.ExitCode);
        var line = Assert.Single(result.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: --http", line);
        Assert.Contains(problem, line);
        Assert.False(Directory.Exists(Path.Combine(work, "r")), "the run directory was created");
    }

    private string[] Chromium(string action, string url) =>
        ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,1000",
         $"--user-data-dir={Path.Combine(work, "chromium")}", action, url];

    private static async Task<long> NextStep(StreamReader events, CancellationToken cancel)
    {
        while (await events.ReadLineAsync(cancel) is { } line)
            if (line.StartsWith("data: ", StringComparison.Ordinal))
                return JsonDocument.Parse(line[6..]).RootElement.GetProperty("globalStep").GetInt64();
        throw new EndOfStreamException("the event stream ended");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        children.Dispose();
        try { Directory.Delete(work, recursive: true); }
        catch (IOException) { /* best effort */ }
    }
}
