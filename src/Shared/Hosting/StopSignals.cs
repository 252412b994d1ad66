using System.Runtime.InteropServices;

namespace VaeCluster.Hosting;

/// <summary>
/// Ctrl-C and SIGTERM stop a training run: the token is cancelled and the process is not killed outright, so the
/// run can say how to resume. Registered by the run itself because the generic host's console lifetime would
/// otherwise take the signal and stop only the host, leaving the run waiting.
/// </summary>
public sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource stop;
    private readonly PosixSignalRegistration[] registrations;

    public StopSignals(CancellationToken outer)
    {
        stop = CancellationTokenSource.CreateLinkedTokenSource(outer);
        registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle),
        ];
    }

    public CancellationToken Token => stop.Token;

    /// <summary>Stops as a signal would, for other reasons to stop (a parent process gone).</summary>
    public void Cancel() => stop.Cancel();

    private void Handle(PosixSignalContext context)
    {
        context.Cancel = true;
        stop.Cancel();
    }

    public void Dispose()
    {
        foreach (var r in registrations) r.Dispose();
        stop.Dispose();
    }
}
