using Akka.Actor;
using Akka.Cluster;

namespace VaeCluster.Cluster;

/// <summary>
/// The cluster's downing: the coordinator alone decides who is removed (<see cref="CoordinatorDowning"/>), and no
/// node ever downs the coordinator. Akka's split-brain resolver does not fit this cluster: its decision is taken
/// by the leader, which may be any worker, and under churn (workers killed and replaced every few seconds) its
/// "down all when unstable" rule downs every node, the coordinator included. Here a partition costs only the
/// workers cut off from the coordinator, which rejoin when they can reach it again.
/// Configured through akka.cluster.downing-provider-class (see ClusterAkka).
/// </summary>
public sealed class CoordinatorDowningProvider : IDowningProvider
{
    // Akka creates downing providers reflectively, with one or the other constructor depending on its version;
    // neither needs anything: the actor finds its cluster itself.
    public CoordinatorDowningProvider(ActorSystem system) { }

    public CoordinatorDowningProvider(ActorSystem system, Akka.Cluster.Cluster cluster) { }

    /// <summary>Nothing here hands work over after a removal (no sharding, no singletons): no margin needed.</summary>
    public TimeSpan DownRemovalMargin => TimeSpan.Zero;

    public Props DowningActorProps => CoordinatorDowning.Props(ClusterAkka.DownAfter);

    /// <summary>The value for akka.cluster.downing-provider-class.</summary>
    public static string ConfigName => $"{typeof(CoordinatorDowningProvider).FullName}, {typeof(CoordinatorDowningProvider).Assembly.GetName().Name}";
}
