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
public sealed record JoinTraining(string WorkerId, int ProtocolVersion, int TrainSamples, string TrainDataSha256) : IJoinMessage
{
    /// <summary>The join protocol this build speaks (2: JoinTraining carries the data digest); nodes must agree.</summary>
    public const int CurrentProtocol = 2;
}

/// <summary>
/// The coordinator's answer: connect to its data plane at Host:Port and present Token, which admits exactly one
/// connection for this worker. The model's shape tells the worker which replica to build. A worker on the
/// coordinator's machine can open <paramref name="SharedMemory"/> and move tensors through it instead of the socket.
/// </summary>
public sealed record DataPlaneOffer(
    string WorkerId, string Host, int Port, string Token, ModelShape Model, SharedMemoryOffer? SharedMemory) : IJoinMessage;

/// <summary>Where the parameters are published each step and where this worker writes its gradients; both files start with Cookie.</summary>
public sealed record SharedMemoryOffer(string ParametersPath, string GradientPath, string Cookie);

/// <summary>The coordinator will not take this worker; Reason says why, for the worker's log.</summary>
public sealed record JoinRefused(string WorkerId, string Reason) : IJoinMessage;
