using System.Text.Json.Serialization;
using VaeCluster.Protocol;

namespace VaeCluster.Coordinator.Run;

/// <summary>
/// One worker node's share of an epoch (an entry of "nodes" in metrics.jsonl): its shards, the bytes the
/// coordinator's transport sent to it and received from it, and where its shards' time went: computing (as the
/// node measured it), moving tensors (the rest of each round trip) and waiting for the step's other shards.
/// </summary>
public sealed record NodeFigures(
    [property: JsonPropertyName("node")] string Node,
    [property: JsonPropertyName("host")] string Host,
    [property: JsonPropertyName("workers")] int Workers,
    [property: JsonPropertyName("shards")] long Shards,
    [property: JsonPropertyName("bytes_sent")] long BytesSent,
    [property: JsonPropertyName("bytes_received")] long BytesReceived,
    [property: JsonPropertyName("compute_ms")] double ComputeMs,
    [property: JsonPropertyName("transfer_ms")] double TransferMs,
    [property: JsonPropertyName("wait_ms")] double WaitMs);

/// <summary>Running per-node totals (of an epoch, or of a run); changed on the coordinator's thread only.</summary>
public sealed class NodeTally
{
    private readonly Dictionary<string, NodeFigures> nodes = new();

    /// <summary>A shard's result was accepted: its round trip, split by the node's own compute time.</summary>
    public void Answered(string node, string host, int workers, ShardCost? cost, double roundTripMs)
    {
        double computeMs = Math.Min(roundTripMs, (cost?.ComputeMicros ?? 0) / 1000.0);
        var f = Of(node, host, workers);
        nodes[node] = f with
        {
            Host = host, Workers = workers, Shards = f.Shards + 1,
            BytesSent = f.BytesSent + (cost?.BytesToNode ?? 0), BytesReceived = f.BytesReceived + (cost?.BytesFromNode ?? 0),
            ComputeMs = f.ComputeMs + computeMs, TransferMs = f.TransferMs + Math.Max(0, roundTripMs - computeMs),
        };
    }

    /// <summary>The node's result then waited this long for the rest of its step.</summary>
    public void Waited(string node, double waitMs)
    {
        if (nodes.TryGetValue(node, out var f)) nodes[node] = f with { WaitMs = f.WaitMs + waitMs };
    }

    /// <summary>The totals, rounded for the record, in the order nodes first answered.</summary>
    public IReadOnlyList<NodeFigures> Figures() => nodes.Values
        .Select(f => f with { ComputeMs = Math.Round(f.ComputeMs, 1), TransferMs = Math.Round(f.TransferMs, 1), WaitMs = Math.Round(f.WaitMs, 1) })
        .ToList();

    private NodeFigures Of(string node, string host, int workers) =>
        nodes.TryGetValue(node, out var f) ? f : new NodeFigures(node, host, workers, 0, 0, 0, 0, 0, 0);
}
