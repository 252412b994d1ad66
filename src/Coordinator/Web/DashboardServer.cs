using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using VaeCluster.Coordinator.Monitoring;

namespace VaeCluster.Coordinator.Web;

/// <summary>
/// The dashboard's web server (Kestrel, from the .NET shared framework): the page, /api/status, /events,
/// /metrics, /healthz and /readyz. Bound before the run directory is created, so a port that is taken is an error
/// that leaves nothing behind.
/// </summary>
public sealed class DashboardServer : IAsyncDisposable
{
    /// <summary>How many ports after the default one are tried when it is taken.</summary>
    private const int PortsToTry = 100;

    private readonly WebApplication app;

    private DashboardServer(WebApplication app, string url)
    {
        this.app = app;
        Url = url;
    }

    /// <summary>http://HOST:PORT/, with the port actually bound.</summary>
    public string Url { get; }

    /// <exception cref="DashboardError">the address cannot be listened on</exception>
    public static async Task<DashboardServer> StartAsync(DashboardAddress address, RunStatusBoard board, DashboardPictures pictures)
    {
        int tries = address.Explicit || address.Port == 0 ? 1 : Math.Min(PortsToTry, IPEndPoint.MaxPort - address.Port + 1);
        for (int i = 0; i < tries; i++)
        {
            var endpoint = new IPEndPoint(address.Host, address.Port + i);
            var app = Build(endpoint, board, pictures);
            try
            {
                await app.StartAsync();
                return new DashboardServer(app, UrlOf(app, endpoint));
            }
            catch (IOException e) when (e.InnerException is AddressInUseException)
            {
                await app.DisposeAsync();
                if (address.Explicit)
                    throw new DashboardError($"--http {endpoint}: the port is taken; choose another, or leave --http out to use the next free port from {DashboardAddress.Default.Port}");
            }
            catch (IOException e)
            {
                await app.DisposeAsync();
                throw new DashboardError($"--http {endpoint}: cannot listen there ({(e.InnerException ?? e).Message}); give an address of this machine, such as 127.0.0.1:8080");
            }
        }
        throw new DashboardError($"ports {address.Port} to {address.Port + tries - 1} are all taken; choose a free one with --http HOST:PORT, or --http off");
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private static WebApplication Build(IPEndPoint endpoint, RunStatusBoard board, DashboardPictures pictures)
    {
        // The empty builder reads no appsettings.json or ASPNETCORE_* variables: the flag alone says where to listen.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(endpoint));
        builder.Services.AddRoutingCore();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(3));
        var app = builder.Build();
        app.UseRouting();
        DashboardRoutes.Map(app, board, pictures, app.Lifetime.ApplicationStopping);
        return app;
    }

    private static string UrlOf(WebApplication app, IPEndPoint asked)
    {
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        return (bound ?? $"http://{asked}").TrimEnd('/') + "/";
    }
}
