namespace VaeCluster.Worker.Cluster;

/// <summary>How one membership of a worker node in the cluster ended, and so what the node does next.</summary>
public sealed record WorkerSessionEnd(WorkerSessionOutcome Outcome, string Reason);

public enum WorkerSessionOutcome
{
    /// <summary>The coordinator said Bye: training is over, the node exits.</summary>
    Finished,
    /// <summary>The coordinator will not take this worker; retrying would not help, the node exits non-zero.</summary>
    Refused,
    /// <summary>The coordinator or the connection went away; the node rejoins.</summary>
    Lost,
    /// <summary>No coordinator admitted this worker within CoordinatorLink.CoordinatorPatience; the node exits non-zero.</summary>
    GaveUp,
}
