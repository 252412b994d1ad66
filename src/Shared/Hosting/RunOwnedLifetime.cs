using Microsoft.Extensions.Hosting;

namespace VaeCluster.Hosting;

/// <summary>A host lifetime that leaves signals alone: the training run decides when the host stops.</summary>
public sealed class RunOwnedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
