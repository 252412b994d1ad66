using Microsoft.Extensions.Hosting;

namespace VaeCluster.Hosting;

/// <summary>Stopping a node's host with a deadline: a shutdown that hangs (a peer that never answers) must not keep the process.</summary>
public static class HostStop
{
    /// <summary>Akka's coordinated shutdown of a cluster node (leave, exit, stop) normally takes a few seconds.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <returns>false when the host had not stopped by the deadline (the process goes on without waiting for it).</returns>
    public static async Task<bool> StopWithinDeadlineAsync(this IHost host)
    {
        using var deadline = new CancellationTokenSource(Deadline);
        try
        {
            await host.StopAsync(deadline.Token).WaitAsync(Deadline);
            return true;
        }
        catch (Exception error) when (error is TimeoutException or OperationCanceledException)
        {
            return false;
        }
    }
}
