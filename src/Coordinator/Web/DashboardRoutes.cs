using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using VaeCluster.Coordinator.Monitoring;

namespace VaeCluster.Coordinator.Web;

/// <summary>
/// What the dashboard serves. Every handler only reads the board's current snapshot (or a picture file the run
/// wrote), so a request never waits on, or changes, the actors' state.
/// </summary>
public static class DashboardRoutes
{
    /// <summary>A watcher that has not beaten for this long is taken as stuck: its actor system no longer answers.</summary>
    private static readonly TimeSpan Unresponsive = TimeSpan.FromSeconds(10);
    /// <summary>How often an open page gets the status: often enough to watch, rarely enough to cost nothing.</summary>
    private static readonly TimeSpan UpdateEvery = TimeSpan.FromSeconds(1);

    private const string StatusSlot = "<script id=\"initial-status\" type=\"application/json\">null</script>";

    public static void Map(IEndpointRouteBuilder app, RunStatusBoard board, DashboardPictures pictures, CancellationToken stopping)
    {
        foreach (var (path, type) in StaticAssets.Served.Where(a => a.Key != "index.html"))
        {
            var bytes = StaticAssets.Read(path);
            app.MapGet("/" + path, () => Results.Bytes(bytes, type));
        }

        var json = new PerStatus(board, s => JsonSerializer.Serialize(s, DashboardJson.Options));
        var metrics = new PerStatus(board, PrometheusText.Format);
        var page = Encoding.UTF8.GetString(StaticAssets.Read("index.html"));
        app.MapGet("/", () => Results.Content(WithStatus(page, json.Current), StaticAssets.Served["index.html"]));

        app.MapGet("/api/status", () => Results.Text(json.Current, "application/json; charset=utf-8"));

        app.MapGet("/events", (HttpContext http) =>
        {
            // Ends with the request or the server, so that stopping the server never waits on an open page.
            var until = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, stopping);
            http.Response.RegisterForDispose(until);
            return TypedResults.ServerSentEvents(
                board.Updates(UpdateEvery, until.Token).Select(json.Of), "status");
        });

        app.MapGet("/metrics", () => Results.Text(metrics.Current, PrometheusText.ContentType));

        // Alive: the process answers, and its actor system still runs the watcher (or has not started yet).
        app.MapGet("/healthz", () => board.SinceLastBeat switch
        {
            null => Results.Json(new { status = "starting" }),
            var t when t < Unresponsive => Results.Json(new { status = "ok" }),
            var t => Results.Json(new { status = $"the actor system has not answered for {t.Value.TotalSeconds:F0} s" }, statusCode: 503),
        });

        // Ready: training, or waiting for workers to train with (a coordinator must be reachable to be joined).
        app.MapGet("/readyz", () => board.Current is var s && s.Ready && board.SinceLastBeat < Unresponsive
            ? Results.Json(new { status = s.Phase })
            : Results.Json(new { status = s.Phase }, statusCode: 503));

        app.MapGet("/pictures/{name}", (string name) =>
            pictures.PathOf(name) is { } file && File.Exists(file)
                ? Results.Bytes(File.ReadAllBytes(file), "image/png")
                : Results.NotFound());
    }

    /// <summary>The page with the current status in it: rendered at once, with no round trip, and by a browser
    /// that only reads the page (chromium --dump-dom) as well.</summary>
    /// <remarks>The serializer's default encoder writes '&lt;' as \u003C, so no text in the JSON can end the script element.</remarks>
    private static string WithStatus(string page, string json) => page.Replace(StatusSlot, StatusSlot.Replace(">null<", $">{json}<"));
}

/// <summary>The run's pictures the page shows, by the name it asks for.</summary>
public sealed record DashboardPictures(string Samples, string Reconstructions)
{
    public string? PathOf(string name) => name switch
    {
        "samples.png" => Samples,
        "reconstructions.png" => Reconstructions,
        _ => null,
    };
}
