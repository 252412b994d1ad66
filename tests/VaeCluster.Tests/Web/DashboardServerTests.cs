using System.Net;
using System.Net.Sockets;
using VaeCluster.Coordinator.Monitoring;
using VaeCluster.Coordinator.Web;
using VaeCluster.Tests.Checkpoints;
using Xunit;

namespace VaeCluster.Tests.Web;

/// <summary>The web server in this process, on a board the test posts to: ports, probes and pages.</summary>
public sealed class DashboardServerTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly RunStatusBoard board = new(RunStatus.Starting(3, 100));
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private DashboardPictures Pictures => new(dir.File("samples.png"), dir.File("reconstructions.png"));

    private Task<DashboardServer> Start(int port = 0, bool explicitPort = true) =>
        DashboardServer.StartAsync(new DashboardAddress(IPAddress.Loopback, port, explicitPort), board, Pictures);

    [Fact]
    public async Task Should_take_the_next_free_port_when_the_default_one_is_taken()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;

        await using var server = await Start(port, explicitPort: false);

        Assert.StartsWith("http://127.0.0.1:", server.Url);
        Assert.NotEqual(port, new Uri(server.Url).Port);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(server.Url + "healthz")).StatusCode);
    }

    [Fact]
    public async Task Should_refuse_an_explicit_port_that_is_taken()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var error = await Assert.ThrowsAsync<DashboardError>(() => Start(port));
        Assert.Contains($"127.0.0.1:{port}: the port is taken", error.Message);
    }

    [Fact]
    public async Task Should_be_alive_but_not_ready_while_starting_then_ready_once_the_watcher_posts_training()
    {
        await using var server = await Start();

        Assert.Equal((HttpStatusCode.OK, "{\"status\":\"starting\"}"), await Get(server, "healthz"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await Get(server, "readyz")).Status);

        board.Publish(board.Current with { Phase = "waiting for workers" });
        Assert.Equal((HttpStatusCode.OK, "{\"status\":\"ok\"}"), await Get(server, "healthz"));
        Assert.Equal((HttpStatusCode.OK, "{\"status\":\"waiting for workers\"}"), await Get(server, "readyz"));

        board.Publish(board.Current with { Phase = "finished" });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await Get(server, "readyz")).Status);
    }

    [Fact]
    public async Task Should_serve_the_page_with_the_current_status_and_its_scripts_from_this_process()
    {
        board.Publish(board.Current with { Phase = "training", GlobalStep = 4321, Error = "</script><b>" });
        await using var server = await Start();

        var (status, page) = await Get(server, "");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("\"globalStep\":4321", page);
        Assert.DoesNotContain("</script><b>", page); // text from the run cannot end the page's script
        foreach (var script in new[] { "vendor/chart.umd.min.js", "app.js", "style.css" })
            Assert.Equal(HttpStatusCode.OK, (await Get(server, script)).Status);
        Assert.Contains("Chart.js", (await Get(server, "vendor/chart.umd.min.js")).Body[..200]);
        Assert.Equal(HttpStatusCode.NotFound, (await Get(server, "pictures/samples.png")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Get(server, "pictures/..%2Fconfig.json")).Status);
    }

    [Fact]
    public async Task Should_push_each_new_status_as_a_server_sent_event()
    {
        await using var server = await Start();
        using var events = await http.GetStreamAsync(server.Url + "events");
        using var reader = new StreamReader(events);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        Assert.Contains("\"globalStep\":0", await NextData(reader, deadline.Token));
        board.Publish(board.Current with { Phase = "training", GlobalStep = 17 });
        Assert.Contains("\"globalStep\":17", await NextData(reader, deadline.Token));
    }

    private static async Task<string> NextData(StreamReader reader, CancellationToken cancel)
    {
        while (await reader.ReadLineAsync(cancel) is { } line)
            if (line.StartsWith("data: ", StringComparison.Ordinal)) return line[6..];
        throw new EndOfStreamException("the event stream ended");
    }

    private async Task<(HttpStatusCode Status, string Body)> Get(DashboardServer server, string path)
    {
        using var response = await http.GetAsync(server.Url + path);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public void Dispose()
    {
        http.Dispose();
        dir.Dispose();
    }
}
