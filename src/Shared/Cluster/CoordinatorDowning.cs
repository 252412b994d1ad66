using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace VaeCluster.Cluster;

/// <summary>
/// Runs on every node; acts only on the coordinator's. It downs any other member that stays unreachable for
/// <c>downAfter</c>, so a killed worker leaves the membership in seconds and never blocks it. It never downs its
/// own node, and nothing else downs anyone: the coordinator stays a member whatever workers (or nodes that cannot
/// even connect: see ClusterTransportKey) do. A worker cut off from the coordinator is downed on this side and
/// learns it when it reaches the coordinator again; its node then rejoins with a fresh ActorSystem.
/// </summary>
public sealed class CoordinatorDowning : ReceiveActor, IWithTimers
{
    private sealed class Tick { public static readonly Tick Instance = new(); }

    private readonly TimeSpan downAfter;
    private readonly Akka.Cluster.Cluster cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly Dictionary<UniqueAddress, (Member Member, DateTime Since)> unreachable = new();
    private readonly HashSet<UniqueAddress> downed = new();

    public ITimerScheduler Timers { get; set; } = null!;

    public CoordinatorDowning(TimeSpan downAfter)
    {
        this.downAfter = downAfter;
        Receive<ClusterEvent.UnreachableMember>(m =>
        {
            if (!m.Member.UniqueAddress.Equals(cluster.SelfUniqueAddress))
                unreachable.TryAdd(m.Member.UniqueAddress, (m.Member, DateTime.UtcNow));
        });
        Receive<ClusterEvent.ReachableMember>(m => unreachable.Remove(m.Member.UniqueAddress));
        Receive<ClusterEvent.MemberRemoved>(m =>
        {
            unreachable.Remove(m.Member.UniqueAddress);
            downed.Remove(m.Member.UniqueAddress);
        });
        Receive<Tick>(_ => DownOverdue());
        ReceiveAny(_ => { });
    }

    public static Props Props(TimeSpan downAfter) => Akka.Actor.Props.Create(() => new CoordinatorDowning(downAfter));

    protected override void PreStart()
    {
        if (!cluster.SelfRoles.Contains(ClusterDefaults.CoordinatorRole)) return; // workers never down anyone
        cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.MemberRemoved));
        Timers.StartPeriodicTimer(nameof(Tick), Tick.Instance, TimeSpan.FromSeconds(1));
    }

    protected override void PostStop() => cluster.Unsubscribe(Self);

    private void DownOverdue()
    {
        var now = DateTime.UtcNow;
        foreach (var (node, (member, since)) in unreachable.Where(u => now - u.Value.Since >= downAfter))
        {
            if (downed.Add(node))
                log.Warning("Downing {0} ({1}): unreachable for {2:F0} s", member.Address, string.Join(",", member.Roles), (now - since).TotalSeconds);
            // Repeated each tick until the member is removed: Down is idempotent, and a gossip can be lost.
            cluster.Down(member.Address);
        }
    }
}
