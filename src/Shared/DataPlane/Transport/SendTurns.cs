namespace VaeCluster.DataPlane;

/// <summary>
/// The coordinator's TCP links take turns at sending parameters: one node's copy at a time, on the wire and not
/// only in kernel buffers (a turn ends when the node has acknowledged all but <see cref="LeftBytes"/>). Sent together,
/// every node's copy shares the coordinator's link, so each node has its parameters only when all have them, and all
/// answer at once into the same link. Sent in turn, the first node starts computing after its own transfer, and
/// its gradient comes back while the others still compute: with N nodes a step costs about N transfers out, the
/// compute and one transfer in, instead of N out, the compute and N in (docs/BENCHMARKS.md, issue 13).
/// A link that cannot finish its turn (a node gone silent) holds the others back for at most the patience given
/// (a second by default), after which they send alongside it.
/// </summary>
public sealed class SendTurns(TimeSpan? patience = null)
{
    private readonly TimeSpan patience = patience ?? TimeSpan.FromSeconds(1);

    /// <summary>
    /// A turn ends when the node has acknowledged all but this many bytes: the next link's first bytes then queue
    /// behind a last fraction of a millisecond of this one's at 10 Gbit/s, and the link never idles between turns.
    /// </summary>
    public const int LeftBytes = 256 << 10;

    private readonly SemaphoreSlim turn = new(1, 1);

    /// <summary>Runs <paramref name="send"/> on <paramref name="channel"/> in this link's turn, which lasts until its bytes are on the wire.</summary>
    public void Take(FrameChannel channel, Action send)
    {
        bool mine = turn.Wait(patience);
        try
        {
            send();
            if (mine) channel.WaitUntilAcknowledged(LeftBytes, DateTime.UtcNow + patience);
        }
        finally { if (mine) turn.Release(); }
    }
}
