namespace VaeCluster.Cluster;

/// <summary>
/// Names and ports that the code, deploy/ (Docker, Compose, Kubernetes) and the docs must agree on.
/// Tests read deploy/ and check it against these.
/// </summary>
public static class ClusterDefaults
{
    /// <summary>The ActorSystem name: every node of one cluster must use the same one.</summary>
    public const string SystemName = "vaecluster";

    public const string CoordinatorRole = "coordinator";
    public const string WorkerRole = "worker";

    /// <summary>Akka.Remote port of the coordinator, which is also the seed node.</summary>
    public const int CoordinatorPort = 4053;

    /// <summary>TCP port of the coordinator's data plane (parameters and gradients).</summary>
    public const int DataPort = 4054;

    /// <summary>Environment variables with this prefix override appsettings.json, e.g. VAE_CLUSTER__SEEDS__0.</summary>
    public const string EnvironmentPrefix = "VAE_";

    /// <summary>The configuration section holding the cluster settings.</summary>
    public const string Section = "Cluster";
}
