using VaeCluster.Coordinator.Monitoring;
using VaeCluster.Coordinator.Run;

namespace VaeCluster.Coordinator.Web;

/// <summary>
/// Everything that watches one training run from outside the actors: the status board, the tap on the
/// coordinator's log, and, unless --http off, the dashboard's web server. Started before the run directory is
/// created; the hosts get its <see cref="Plan"/> and start the watcher actor beside the coordinator.
/// </summary>
public sealed class RunWatch : IAsyncDisposable
{
    private readonly RunDirectory run;
    private readonly DashboardServer? server;

    private RunWatch(RunDirectory run, RunStatusBoard board, DashboardServer? server)
    {
        this.run = run;
        this.server = server;
        Board = board;
    }

    public RunStatusBoard Board { get; }
    public CoordinatorLogTap Tap { get; } = new();

    /// <summary>Where the dashboard is; null with --http off.</summary>
    public string? Url => server?.Url;

    /// <param name="address">null: no web server (--http off)</param>
    /// <exception cref="DashboardError">the address cannot be listened on</exception>
    public static async Task<RunWatch> StartAsync(DashboardAddress? address, RunDirectory run, int epochs)
    {
        var board = new RunStatusBoard(RunStatus.Starting(epochs, 0));
        var server = address is null ? null
            : await DashboardServer.StartAsync(address, board, new DashboardPictures(run.Samples, run.Reconstructions));
        return new RunWatch(run, board, server);
    }

    public WatchPlan Plan(WatchFacts facts) =>
        new(facts, Board, Tap, run.TensorBoard, run.Samples, run.Reconstructions);

    public async ValueTask DisposeAsync()
    {
        if (server is not null) await server.DisposeAsync();
    }
}
