namespace VaeCluster.DataPlane;

/// <summary>What a data-plane frame carries. The numbers are on the wire: never renumber.</summary>
public enum FrameKind : byte
{
    /// <summary>Worker to coordinator, answering Challenge: who it is, the token from its DataPlaneOffer, and its proof.</summary>
    Hello = 1,
    /// <summary>Coordinator to worker: admitted; the parameter layout every later payload follows.</summary>
    Welcome = 2,
    /// <summary>Coordinator to worker: not admitted, with the reason; the connection closes.</summary>
    Refused = 3,
    /// <summary>Coordinator to worker: a shard to compute, with the current parameters as payload.</summary>
    Shard = 4,
    /// <summary>Worker to coordinator: a shard's loss sum, with the gradient as payload.</summary>
    Gradient = 5,
    /// <summary>Coordinator to worker: training is over; the worker may exit.</summary>
    Bye = 6,
    /// <summary>Coordinator to worker, first frame: a fresh nonce the worker must sign with the cluster secret.</summary>
    Challenge = 7,
    /// <summary>Worker to coordinator, instead of Gradient: the shard's computation failed, with the reason.</summary>
    ShardFailed = 8,
    /// <summary>Coordinator to worker (--sync-every above 1): a round of local steps, with the round's starting parameters.</summary>
    Round = 9,
    /// <summary>Worker to coordinator: a round's losses, with the node's parameter change as payload.</summary>
    RoundResult = 10,
}
