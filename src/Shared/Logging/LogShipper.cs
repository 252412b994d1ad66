using Akka.Actor;
using Akka.Cluster;
using VaeCluster.Cluster;

namespace VaeCluster.Logging;

/// <summary>
/// Sends a worker node's queued log events to the coordinator's <c>node-logs</c> writer: a batch each second, or as
/// soon as 200 events wait, one batch in flight at a time. It sends only while the coordinator is a reachable member;
/// a batch that is not acknowledged within <see cref="AnswerWithin"/> goes again (the writer stores it once).
/// One shipper per ActorSystem; the queue it reads from outlives it.
/// </summary>
public sealed class LogShipper : ReceiveActor, IWithTimers
{
    public const string Name = "log-shipper";
    public static readonly TimeSpan SendEvery = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan AnswerWithin = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);

    private sealed class Check { public static readonly Check Instance = new(); }

    private readonly LogForwardingQueue queue;
    private Address? coordinator;
    private bool reachable;
    private long sentAt; // Environment.TickCount64 of the last send
    private long? inFlight;

    public ITimerScheduler Timers { get; set; } = null!;

    public LogShipper(LogForwardingQueue queue)
    {
        this.queue = queue;
        Receive<ClusterEvent.MemberUp>(up =>
        {
            if (!up.Member.HasRole(ClusterDefaults.CoordinatorRole)) return;
            coordinator = up.Member.Address;
            reachable = true;
        });
        Receive<ClusterEvent.MemberRemoved>(removed =>
        {
            if (removed.Member.Address.Equals(coordinator)) coordinator = null;
        });
        Receive<ClusterEvent.UnreachableMember>(m => { if (m.Member.Address.Equals(coordinator)) reachable = false; });
        Receive<ClusterEvent.ReachableMember>(m => { if (m.Member.Address.Equals(coordinator)) reachable = true; });
        Receive<LogsStored>(stored =>
        {
            queue.Acknowledge(stored.Sequence);
            if (inFlight == stored.Sequence) inFlight = null;
            if (queue.Waiting >= LogForwardingQueue.MaxBatchLines) Send(); // a burst: keep up with it
        });
        Receive<Check>(_ => OnTick());
    }

    public static Props Props(LogForwardingQueue queue) => Akka.Actor.Props.Create(() => new LogShipper(queue));

    protected override void PreStart()
    {
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved), typeof(ClusterEvent.IReachabilityEvent));
        Timers.StartPeriodicTimer(nameof(Check), Check.Instance, Tick);
    }

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    private void OnTick()
    {
        var since = TimeSpan.FromMilliseconds(Environment.TickCount64 - sentAt);
        if (inFlight is not null ? since >= AnswerWithin : since >= SendEvery || queue.Waiting >= LogForwardingQueue.MaxBatchLines)
            Send();
    }

    private void Send()
    {
        if (coordinator is null || !reachable || queue.NextBatch() is not { } batch) return;
        Context.ActorSelection(new RootActorPath(coordinator) / "user" / ForwardedLogs.WriterName).Tell(batch, Self);
        inFlight = batch.Sequence;
        sentAt = Environment.TickCount64;
    }
}
