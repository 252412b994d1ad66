using VaeCluster.Coordinator.Monitoring;

namespace VaeCluster.Coordinator.Web;

/// <summary>
/// One text made from each status the board publishes, made once however many pages, feeds and scrapers read it
/// (and not at all while nobody reads), so that clients cost the training process no more than one reader does.
/// </summary>
public sealed class PerStatus(RunStatusBoard board, Func<RunStatus, string> make)
{
    private sealed record Made(RunStatus Status, string Text);

    private volatile Made? last;

    public string Current => Of(board.Current);

    public string Of(RunStatus status)
    {
        // By reference: a status is immutable, and the board publishes a new object for every change.
        if (last is { } made && ReferenceEquals(made.Status, status)) return made.Text;
        var text = make(status);
        last = new Made(status, text);
        return text;
    }
}
