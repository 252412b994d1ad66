using System.Security.Cryptography;
using Akka;
using Akka.Actor;
using Akka.Cluster;
using Serilog;
using VaeCluster.Cluster;
using VaeCluster.DataPlane;
using VaeCluster.Model;

namespace VaeCluster.Coordinator.Cluster;

/// <summary>
/// Where worker nodes knock: it answers JoinTraining with a data-plane address and a one-time token, admits the
/// connection that presents the token, and gives each admitted worker a WorkerLink that the coordinator then
/// sees as one more worker. A worker's name is its identity in the run (ledger, logs, shard owners), so a name held
/// by a live node is refused to any other; a node that is gone, or the same node coming back, takes it over.
/// </summary>
public sealed class WorkerGateway : ReceiveActor
{
    public const string Name = "worker-gateway";

    private sealed record Pending(string WorkerId, int Actors, IActorRef Node, SharedTensorRegion? Gradients, int GradientSlots);

    /// <summary>Who holds a worker name: its link here, the worker node's actor that joined, and where that node is.</summary>
    private sealed record Holder(IActorRef Link, IActorRef Node, string Where);

    private readonly IActorRef coordinator;
    private readonly GatewaySettings settings;
    private readonly ILogger log;
    private readonly Dictionary<string, Pending> pending = new();
    private readonly Dictionary<string, Holder> links = new();
    private readonly RefusalLog refusals;
    /// <summary>The TCP links' turns at sending parameters (one coordinator, one outgoing link to share).</summary>
    private readonly SendTurns sendTurns = new();
    private int linksCreated;

    public WorkerGateway(IActorRef coordinator, GatewaySettings settings, ILogger log)
    {
        this.coordinator = coordinator;
        this.settings = settings;
        this.log = log;
        refusals = new RefusalLog(log, HandshakeLimits.Default.WarnEvery);

        Receive<JoinTraining>(OnJoin);
        Receive<DataPlaneConnected>(OnConnected);
        Receive<SayGoodbye>(bye =>
        {
            // Answers once every link has sent its Bye, so the node can shut down without cutting one short.
            var said = links.Values.Select(holder => holder.Link.Ask<Done>(bye, TimeSpan.FromSeconds(5)));
            Task.WhenAll(said).ContinueWith(_ => Done.Instance).PipeTo(Sender);
        });
        Receive<Terminated>(gone =>
        {
            foreach (var id in links.Where(l => l.Value.Link.Equals(gone.ActorRef)).Select(l => l.Key).ToList()) links.Remove(id);
        });
    }

    public static Props Props(IActorRef coordinator, GatewaySettings settings, ILogger log) =>
        Akka.Actor.Props.Create(() => new WorkerGateway(coordinator, settings, log));

    private void OnJoin(JoinTraining join)
    {
        if (join.ProtocolVersion != JoinTraining.CurrentProtocol)
        {
            Refuse(join, $"worker {join.WorkerId} speaks protocol {join.ProtocolVersion}, the coordinator {JoinTraining.CurrentProtocol}: run the same VaeCluster version on every node");
            return;
        }
        if (join.TrainSamples < settings.TrainSamples)
        {
            Refuse(join, $"worker {join.WorkerId} loaded {join.TrainSamples} training images, the run needs {settings.TrainSamples}: give every node the same MNIST files");
            return;
        }
        if (join.Wire is { } asked && asked != settings.Wire)
        {
            Refuse(join, $"worker {join.WorkerId} was started with --wire {WirePrecisionName.Of(asked)}, the coordinator sends {WirePrecisionName.Of(settings.Wire)}: give every node the same --wire, or none to workers (they take the coordinator's)");
            return;
        }
        if (join.TrainDataSha256 != settings.TrainDataSha256)
        {
            Refuse(join, $"worker {join.WorkerId}'s training data differ from the coordinator's (sha256 {Short(join.TrainDataSha256)} vs {Short(settings.TrainDataSha256)}); give both the same --data");
            return;
        }
        if (NameTaken(join.WorkerId, Sender) is { } taken)
        {
            Refuse(join, taken);
            return;
        }
        string token = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        // Every worker is offered shared memory; only one on this machine can open it (the cookie proves it).
        // A node may hold as many whole shards at once as it has actors (deterministic runs): a gradient slot each.
        int actors = Math.Max(1, join.Actors);
        int slots = settings.WholeShards ? actors : 1;
        var gradients = settings.Parameters is null
            ? null
            : SharedTensorRegion.Create($"vaecluster-{Environment.ProcessId}-{token[..12]}.grad", slots * TensorLayout.PayloadBytes(settings.Layout), settings.Cookie);
        pending[token] = new Pending(join.WorkerId, actors, Sender, gradients, slots);
        var shared = gradients is null ? null : new SharedMemoryOffer(settings.Parameters!.Path, gradients.Path, settings.Cookie, slots);
        Sender.Tell(new DataPlaneOffer(join.WorkerId, settings.DataHost, settings.DataPort, token, settings.Model, shared, settings.Wire, settings.SyncEvery));
        log.Debug("Offered the data plane to worker {Worker} at {WorkerAddress}", join.WorkerId, Sender.Path.Address);
    }

    private void Refuse(JoinTraining join, string reason)
    {
        log.ForContext("Worker", join.WorkerId).Warning("Refused a worker: {Reason}", reason);
        Sender.Tell(new JoinRefused(join.WorkerId, reason));
    }

    private static string Short(string? digest) => string.IsNullOrEmpty(digest) ? "none" : $"{digest[..Math.Min(12, digest.Length)]}..";

    private void OnConnected(DataPlaneConnected connected)
    {
        var hello = connected.Hello;
        if (settings.Secret is { } secret && !ClusterSecret.Verify(secret, connected.Nonce, hello.WorkerId, hello.Token, hello.Proof))
        {
            refusals.Refused("secret", "Data plane: refused {Remote} claiming to be worker {Worker}: it does not prove the cluster secret", connected.Channel.Remote, hello.WorkerId);
            TrySend(connected.Channel, new RefusedFrame("wrong cluster secret: give every node the same secret (VAE_CLUSTER__SECRET or --secret-file)"));
            connected.Channel.Dispose();
            if (pending.Remove(hello.Token, out var offered)) offered.Gradients?.Dispose();
            return;
        }
        if (!pending.Remove(hello.Token, out var admitted) || admitted.WorkerId != hello.WorkerId)
        {
            refusals.Refused("token", "Data plane: refused {Remote} claiming to be worker {Worker}: unknown or reused token", connected.Channel.Remote, hello.WorkerId);
            TrySend(connected.Channel, new RefusedFrame("unknown or reused token: ask the coordinator to join first"));
            connected.Channel.Dispose();
            return;
        }
        // Two joins under one name may both have been offered the data plane before either connected.
        if (NameTaken(hello.WorkerId, admitted.Node) is { } taken)
        {
            log.ForContext("Worker", hello.WorkerId).Warning("Refused a worker: {Reason}", taken);
            TrySend(connected.Channel, new RefusedFrame(taken));
            connected.Channel.Dispose();
            admitted.Gradients?.Dispose();
            return;
        }
        // A worker that reconnects, or replaces one that is gone, takes over the old link; the coordinator reassigns
        // whatever the old one held.
        if (links.Remove(hello.WorkerId, out var old)) Context.Stop(old.Link);
        ITransportToNode transport = hello.SharedMemory && admitted.Gradients is not null
            ? new SharedMemoryTransportToNode(connected.Channel, settings.Layout, settings.Parameters!, admitted.Gradients, admitted.GradientSlots)
            : new TcpTransportToNode(connected.Channel, settings.Layout, PayloadCodec.For(settings.Wire), sendTurns);
        if (transport is TcpTransportToNode) admitted.Gradients?.Dispose();
        if (!TrySend(connected.Channel, new WelcomeFrame(settings.Layout)))
        {
            transport.Dispose();
            return;
        }
        string host = admitted.Node.Path.Address.Host ?? connected.Channel.Remote;
        var link = Context.ActorOf(WorkerLink.Props(hello.WorkerId, admitted.Actors, host, transport, coordinator, admitted.Node, log), $"link-{++linksCreated}");
        Context.Watch(link);
        var address = admitted.Node.Path.Address;
        links[hello.WorkerId] = new Holder(link, admitted.Node, address.HasGlobalScope ? $"{address.Host}:{address.Port}" : connected.Channel.Remote);
        log.Information("Worker node {Worker} with {Actors} workers connected its data plane from {Remote} ({Transport}); values as {Wire}",
            hello.WorkerId, admitted.Actors, connected.Channel.Remote, transport.Description, WirePrecisionName.Of(transport.Precision));
    }

    /// <summary>
    /// Why <paramref name="workerId"/> cannot go to the node <paramref name="joiner"/>, or null. The name is taken
    /// while its holder is live: its link here is up, and its node a member the cluster can reach. Not by the
    /// joiner's own node coming back: the same actor, or a new process on the same host and port (its predecessor's
    /// port is free, so the predecessor is gone, whatever the failure detector has yet to notice).
    /// </summary>
    private string? NameTaken(string workerId, IActorRef joiner)
    {
        if (!links.TryGetValue(workerId, out var holder) || holder.Node.Equals(joiner)) return null;
        var node = holder.Node.Path.Address;
        if (node.HasGlobalScope && node.Equals(joiner.Path.Address)) return null;
        if (!IsLiveMember(node)) return null;
        return $"worker name {workerId} is taken by a live node at {holder.Where}; give each worker its own --name";
    }

    /// <summary>Whether the cluster counts this node as up and reachable (always, outside a cluster: the tests' local system).</summary>
    private bool IsLiveMember(Address node)
    {
        if (((ExtendedActorSystem)Context.System).Provider is not Akka.Cluster.ClusterActorRefProvider) return true;
        var state = Akka.Cluster.Cluster.Get(Context.System).State;
        return state.Members.Any(m => m.Address.Equals(node) && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining)
               && !state.Unreachable.Any(m => m.Address.Equals(node));
    }

    protected override void PostStop()
    {
        foreach (var offer in pending.Values) offer.Gradients?.Dispose();
        refusals.Flush();
    }

    private static bool TrySend(FrameChannel channel, IWireMessage message)
    {
        try
        {
            channel.Send(message);
            return true;
        }
        catch (Exception) { return false; /* the peer is going away anyway */ }
    }
}

/// <summary>
/// What the gateway tells joining workers: where the data plane is and what model to build; and, when workers
/// on this machine may use shared memory, where the parameters are published and the cookie of this process.
/// A worker must hold at least <paramref name="TrainSamples"/> images whose DataDigest is <paramref name="TrainDataSha256"/>.
/// <paramref name="WholeShards"/>: a deterministic run, whose nodes may hold several whole shards at once.
/// <paramref name="Wire"/>: how values travel over TCP links (--wire), announced in every offer.
/// <paramref name="SyncEvery"/>: the run's --sync-every, told to each node.
/// </summary>
public sealed record GatewaySettings(
    string DataHost, int DataPort, ModelShape Model, int TrainSamples, string TrainDataSha256, IReadOnlyList<TensorLayout> Layout,
    ParameterPublisher? Parameters = null, string Cookie = "", string? Secret = null, bool WholeShards = false,
    WirePrecision Wire = WirePrecision.Fp32, int SyncEvery = 1);

