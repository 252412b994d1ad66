using System.Diagnostics;

namespace VaeCluster.DataPlane;

/// <summary>
/// Where a data-plane link's time goes: each shard's round trip (parameters out, gradient back) split into the
/// worker's compute, as the worker reports it, and the rest, which is moving tensors and waiting on the wire;
/// and the bytes its transport moved.
/// </summary>
public sealed class TransferStats
{
    private long shards, roundTripTicks, computeMicros, bytesSent, bytesReceived;

    public long Shards => Interlocked.Read(ref shards);

    /// <param name="moved">The transport's byte counts so far.</param>
    public void Record(long roundTripTicks, long computeMicros, TransportBytes moved)
    {
        Interlocked.Increment(ref shards);
        Interlocked.Add(ref this.roundTripTicks, roundTripTicks);
        Interlocked.Add(ref this.computeMicros, computeMicros);
        Interlocked.Exchange(ref bytesSent, moved.Sent);
        Interlocked.Exchange(ref bytesReceived, moved.Received);
    }

    public Summary Snapshot()
    {
        long n = Math.Max(1, Shards);
        double roundTripMs = Interlocked.Read(ref roundTripTicks) * 1000.0 / Stopwatch.Frequency / n;
        double computeMs = Interlocked.Read(ref computeMicros) / 1000.0 / n;
        return new Summary(Shards, roundTripMs, computeMs, roundTripMs - computeMs,
            (Interlocked.Read(ref bytesSent) + Interlocked.Read(ref bytesReceived)) / 1e6);
    }

    public sealed record Summary(long Shards, double RoundTripMs, double ComputeMs, double TransferMs, double Megabytes);
}
