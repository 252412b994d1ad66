using VaeCluster.DataPlane;
using VaeCluster.Model;

namespace VaeCluster.Cluster;

/// <summary>
/// Control messages between a worker node and the coordinator node, carried by Akka.Remote. They are small;
/// parameters and gradients never travel this way (see DataPlane and docs/WIRE_FORMAT.md).
/// </summary>
public interface IJoinMessage;

/// <summary>A worker node asks to take part in training; sent to the coordinator's gateway.</summary>
/// <param name="TrainSamples">How many training images the worker loaded: it must hold every index it may be sent.</param>
/// <param name="TrainDataSha256">The DataDigest of the worker's training set: it must be the coordinator's, or the
/// same indices would name other images and the run would quietly train on a mix.</param>
/// <param name="Actors">The node's worker actors (--workers): it takes shares of each batch in proportion.</param>
/// <param name="Wire">The worker's own --wire, if it was given one: a coordinator with another refuses it, so a
/// node started for bf16 links never trains on fp32 ones unnoticed (or the reverse). Null takes the coordinator's.</param>
public sealed record JoinTraining(string WorkerId, int ProtocolVersion, int TrainSamples, string TrainDataSha256, int Actors = 1,
    WirePrecision? Wire = null) : IJoinMessage
{
    /// <summary>The join protocol this build speaks (4: --wire announced, frame version 3); nodes must agree.</summary>
    public const int CurrentProtocol = 4;
}

/// <summary>
/// The coordinator's answer: connect to its data plane at Host:Port and present Token, which admits exactly one
/// connection for this worker. The model's shape tells the worker which replica to build. A worker on the
/// coordinator's machine can open <paramref name="SharedMemory"/> and move tensors through it instead of the socket.
/// <paramref name="Wire"/> is how values travel over the socket (the coordinator's --wire); shared memory carries fp32.
/// <paramref name="SyncEvery"/> above 1: the run trains in rounds of local steps, so the node puts a RoundRunner
/// before its workers.
/// </summary>
public sealed record DataPlaneOffer(
    string WorkerId, string Host, int Port, string Token, ModelShape Model, SharedMemoryOffer? SharedMemory,
    WirePrecision Wire = WirePrecision.Fp32, int SyncEvery = 1) : IJoinMessage;

/// <summary>
/// Where the parameters are published each step and where this worker writes its gradients; both files start with
/// Cookie. The gradient region has <paramref name="GradientSlots"/> payloads: a node that may hold several whole
/// shards at once (deterministic runs) writes its n-th gradient into slot n mod slots.
/// </summary>
public sealed record SharedMemoryOffer(string ParametersPath, string GradientPath, string Cookie, int GradientSlots = 1);

/// <summary>The coordinator will not take this worker; Reason says why, for the worker's log.</summary>
public sealed record JoinRefused(string WorkerId, string Reason) : IJoinMessage;
