namespace VaeCluster.Coordinator.Monitoring;

/// <summary>What sort of thing happened in a run, as far as watching it goes.</summary>
public enum RunEventKind
{
    Info, Warning, Error, Join, Leave, Pause, Resume, Stall, Reassign, Skip, Checkpoint, Epoch, Finish,
}

/// <summary>
/// One notable event of a run, taken from the coordinator's log (joins, losses, pauses, stalls, reassigned shards,
/// skipped steps, checkpoints, epoch ends): immutable, so it can travel to the watcher actor as a message.
/// </summary>
/// <param name="Worker">the worker it is about, if any</param>
/// <param name="Remote">where a joining worker connected from (cluster mode)</param>
/// <param name="Epoch">the figures of an epoch that just closed</param>
public sealed record RunEvent(
    DateTimeOffset At, string Level, RunEventKind Kind, string Text,
    string? Worker = null, string? Remote = null, EpochFigures? Epoch = null);

/// <summary>An epoch's figures as the coordinator logs them when it closes the epoch (losses in nats per image).</summary>
public sealed record EpochFigures(int Epoch, double TrainLoss, double TestLoss, double SamplesPerSecond);
