using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Serilog;
using VaeCluster.Cluster;
using VaeCluster.Data;
using VaeCluster.DataPlane;
using VaeCluster.Model;
using VaeCluster.Protocol;
using static TorchSharp.torch;

namespace VaeCluster.Worker.Cluster;

/// <summary>
/// Stands in for the coordinator inside a worker node: it finds the coordinator through cluster membership,
/// joins, connects the data plane, and then feeds the node's WorkerPool the shards that arrive, writing each
/// answer back as a Gradient frame. The WorkerPool is the same one single-process mode runs; its actors' replicas
/// compute with this link's parameter buffer, which a Shard frame's payload (one per step) overwrites in place.
/// </summary>
public sealed class CoordinatorLink : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan RetryEvery = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan HandshakeDeadline = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A session whose coordinator this node's own failure detector has not heard for this long ends, and the node
    /// rejoins: behind a partition no "member removed" ever arrives. Longer than the coordinator's DownAfter, so
    /// the coordinator, the authority on membership, normally decides first.
    /// </summary>
    public static readonly TimeSpan CoordinatorSilenceLimit = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long a session waits for a coordinator to admit it before the worker gives up (exits non-zero): no
    /// wait without a deadline. Long enough for a coordinator to be restarted (a Kubernetes Job's back-off).
    /// </summary>
    public static readonly TimeSpan CoordinatorPatience = TimeSpan.FromMinutes(10);

    private sealed record ByeArrived(string Reason);
    private sealed record ConnectionLost(string Reason);
    private sealed class TryJoin { public static readonly TryJoin Instance = new(); }
    private sealed class CoordinatorSilent { public static readonly CoordinatorSilent Instance = new(); }
    private sealed class OutOfPatience { public static readonly OutOfPatience Instance = new(); }

    private readonly string workerId;
    private readonly int actors;
    private readonly MnistSplit train;
    private readonly string? secret;
    private readonly bool sharedMemory;
    private readonly WirePrecision? wire;
    private readonly TaskCompletionSource<WorkerSessionEnd> ended;
    private readonly ILogger log;
    private Address? coordinatorNode;
    private ITransportToCoordinator? transport;
    private IVae? parameterBuffer;
    private IActorRef? worker;
    /// <summary>With --sync-every above 1: the node's RoundRunner, which takes the rounds and drives the workers.</summary>
    private IActorRef? rounds;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(long Step, int Shard), long> computeStarted = new();
    private int attempts;
    private int latent;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="sharedMemory">Take the coordinator's shared memory when this node can open it (--transport auto).</param>
    /// <param name="wire">This node's --wire, if given: a coordinator with another refuses it. Null takes the coordinator's.</param>
    public CoordinatorLink(string workerId, int actors, MnistSplit train, string? secret, bool sharedMemory,
        TaskCompletionSource<WorkerSessionEnd> ended, ILogger log, WirePrecision? wire = null)
    {
        this.workerId = workerId;
        this.actors = actors;
        this.train = train;
        this.secret = secret;
        this.sharedMemory = sharedMemory;
        this.wire = wire;
        this.ended = ended;
        this.log = log;
        Joining();
    }

    public static Props Props(string workerId, int actors, MnistSplit train, string? secret, bool sharedMemory,
        TaskCompletionSource<WorkerSessionEnd> ended, ILogger log, WirePrecision? wire = null) =>
        Akka.Actor.Props.Create(() => new CoordinatorLink(workerId, actors, train, secret, sharedMemory, ended, log, wire));

    protected override void PreStart()
    {
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved), typeof(ClusterEvent.IReachabilityEvent));
        Timers.StartPeriodicTimer(nameof(TryJoin), TryJoin.Instance, RetryEvery);
        Timers.StartSingleTimer(nameof(OutOfPatience), OutOfPatience.Instance, CoordinatorPatience);
    }

    /// <summary>Membership events that end a session in any state: the coordinator removed, or silent too long.</summary>
    private void WatchingTheCoordinator()
    {
        Receive<ClusterEvent.MemberRemoved>(removed =>
        {
            if (removed.Member.Address.Equals(coordinatorNode)) End(WorkerSessionOutcome.Lost, "the coordinator left the cluster");
        });
        Receive<ClusterEvent.UnreachableMember>(unreachable =>
        {
            if (unreachable.Member.Address.Equals(coordinatorNode))
                Timers.StartSingleTimer(nameof(CoordinatorSilent), CoordinatorSilent.Instance, CoordinatorSilenceLimit);
        });
        Receive<ClusterEvent.ReachableMember>(reachable =>
        {
            if (reachable.Member.Address.Equals(coordinatorNode)) Timers.Cancel(nameof(CoordinatorSilent));
        });
        Receive<CoordinatorSilent>(_ =>
        {
            // Unreachable in the gossip may be another node's view; this node ends its session only on its own.
            if (coordinatorNode is not null && !Akka.Cluster.Cluster.Get(Context.System).FailureDetector.IsAvailable(coordinatorNode))
                End(WorkerSessionOutcome.Lost, $"the coordinator has been unreachable for {CoordinatorSilenceLimit.TotalSeconds:F0} s");
            else
                Timers.StartSingleTimer(nameof(CoordinatorSilent), CoordinatorSilent.Instance, CoordinatorSilenceLimit);
        });
    }

    private void Joining()
    {
        Receive<ClusterEvent.MemberUp>(up =>
        {
            if (!up.Member.HasRole(ClusterDefaults.CoordinatorRole)) return;
            coordinatorNode = up.Member.Address;
            AskToJoin();
        });
        Receive<TryJoin>(_ =>
        {
            if (coordinatorNode is not null) AskToJoin();
            else if (++attempts % 3 == 0) log.Warning("Waiting for the coordinator to appear in the cluster (a coordinator with a cluster secret admits only nodes given the same secret: VAE_CLUSTER__SECRET or --secret-file)");
        });
        Receive<DataPlaneOffer>(offer => Connect(offer));
        Receive<JoinRefused>(refused => End(WorkerSessionOutcome.Refused, refused.Reason));
        Receive<OutOfPatience>(_ => End(WorkerSessionOutcome.GaveUp,
            $"no coordinator admitted this worker within {CoordinatorPatience.TotalMinutes:F0} minutes; start the coordinator, or check --seed and the secret"));
        Receive<ClusterEvent.MemberRemoved>(removed =>
        {
            // A coordinator that left on its own (not downed, not vanished) has ended its run, finished or stopped,
            // as its Bye would have said to a connected worker.
            if (removed.Member.HasRole(ClusterDefaults.CoordinatorRole) && removed.PreviousStatus == MemberStatus.Exiting)
                End(WorkerSessionOutcome.Finished, "the coordinator left the cluster before this worker was admitted");
            else if (removed.Member.Address.Equals(coordinatorNode))
                End(WorkerSessionOutcome.Lost, "the coordinator left the cluster");
        });
        WatchingTheCoordinator();
        Receive<ShardGradient>(stale => stale.Gradient.Dispose());
        Receive<RoundResult>(stale => { stale.Change.Dispose(); stale.Inner?.Dispose(); });
        Receive<ShardFailed>(_ => { });
    }

    private void Connected()
    {
        Receive<RegisterWorker>(_ =>
        {
            // The models compute straight from where the transport leaves each step's parameters.
            Sender.Tell(new WorkerAccepted(workerId, new SharedParameters(transport!.Parameters)));
            // Shards are read only now: the WorkerPool must have its parameters before its first shard.
            StartReading();
        });
        Receive<ShardGradient>(result =>
        {
            using var gradient = result.Gradient;
            long computeMicros = computeStarted.TryRemove((result.Step, result.ShardIndex), out long started)
                ? (Stopwatch.GetTimestamp() - started) * 1_000_000 / Stopwatch.Frequency
                : 0;
            try
            {
                transport!.SendGradient(new GradientFrame(result.Step, result.ShardIndex, result.SampleCount, result.LossSum, computeMicros), gradient.Tensors);
            }
            catch (Exception error)
            {
                End(WorkerSessionOutcome.Lost, $"sending a gradient failed: {error.Message}");
            }
        });
        Receive<RoundResult>(result =>
        {
            using var change = result.Change;
            using var inner = result.Inner;
            try
            {
                transport!.SendRoundResult(new RoundResultFrame(result.Round, result.Slot, result.Steps, result.Cost?.ComputeMicros ?? 0,
                    inner is not null, inner?.Step ?? 0), change.Tensors, inner);
            }
            catch (Exception error)
            {
                End(WorkerSessionOutcome.Lost, $"sending a round's change failed: {error.Message}");
            }
        });
        Receive<ShardFailed>(failed =>
        {
            computeStarted.TryRemove((failed.Step, failed.ShardIndex), out _);
            try { transport!.SendFailure(new ShardFailedFrame(failed.Step, failed.ShardIndex, failed.Reason)); }
            catch (Exception error) { End(WorkerSessionOutcome.Lost, $"sending a shard failure failed: {error.Message}"); }
        });
        Receive<ByeArrived>(bye => End(WorkerSessionOutcome.Finished, bye.Reason));
        Receive<ConnectionLost>(lost => End(WorkerSessionOutcome.Lost, lost.Reason));
        WatchingTheCoordinator();
        Receive<DataPlaneOffer>(_ => { }); // answers to earlier retries
        Receive<TryJoin>(_ => { });
        Receive<OutOfPatience>(_ => { });
        Receive<ClusterEvent.MemberUp>(_ => { });
    }

    private void AskToJoin()
    {
        var gateway = Context.ActorSelection(new RootActorPath(coordinatorNode!) / "user" / "worker-gateway");
        gateway.Tell(new JoinTraining(workerId, JoinTraining.CurrentProtocol, train.Count, train.Sha256, actors, wire));
    }

    private void Connect(DataPlaneOffer offer)
    {
        FrameChannel? channel = null;
        WorkerSharedMemory? shared = null;
        try
        {
            var shape = offer.Model;
            parameterBuffer?.Dispose();
            parameterBuffer = ModelFactory.Create(shape);
            var layout = TensorLayout.Of(parameterBuffer.NamedParameters());
            // On the coordinator's machine (and unless --transport tcp) the offered regions open.
            shared = sharedMemory ? WorkerSharedMemory.TryOpen(offer.SharedMemory, layout) : null;
            channel = FrameChannel.Connect(offer.Host, offer.Port, HandshakeDeadline);
            channel.SetReceiveTimeout(HandshakeDeadline);
            if (channel.Receive().Message is not ChallengeFrame challenge) throw new WireError("expected a Challenge from the coordinator");
            channel.Send(new HelloFrame(workerId, offer.Token, SharedMemory: shared is not null,
                Proof: ClusterSecret.Prove(secret, challenge.Nonce, workerId, offer.Token)));
            var answer = channel.Receive();
            if (answer.Message is RefusedFrame refused)
            {
                End(WorkerSessionOutcome.Refused, $"the coordinator refused the data plane: {refused.Reason}");
                channel.Dispose();
                shared?.Dispose();
                return;
            }
            if (answer.Message is not WelcomeFrame welcome) throw new WireError($"expected Welcome, got {answer.Message.Kind}");
            if (!TensorLayout.SameAs(welcome.Layout, layout))
            {
                End(WorkerSessionOutcome.Refused,
                    $"the coordinator's model ({string.Join(", ", welcome.Layout)}) is not the one this worker builds ({string.Join(", ", layout)})");
                channel.Dispose();
                shared?.Dispose();
                return;
            }
            channel.SetReceiveTimeout(null);
            transport = shared is null
                ? new TcpTransportToCoordinator(channel, parameterBuffer.NamedParameters(), PayloadCodec.For(offer.Wire))
                : new SharedMemoryTransportToCoordinator(channel, shared);
            Timers.Cancel(nameof(TryJoin));
            Timers.Cancel(nameof(OutOfPatience));
            Become(Connected);
            latent = shape.Latent;
            rounds = offer.SyncEvery > 1 ? Context.ActorOf(RoundRunner.Props(workerId, Self, shape), "rounds") : null;
            worker = Context.ActorOf(WorkerPool.Props(workerId, actors, rounds ?? Self, shape, train, belowDataPlane: true), "workers");
            log.Information("Worker node {Worker} with {Actors} workers joined: data plane connected to {Remote} ({Transport}); values as {Wire}",
                workerId, actors, channel.Remote, transport.Description, WirePrecisionName.Of(transport.Precision));
        }
        catch (Exception error)
        {
            channel?.Dispose();
            shared?.Dispose();
            log.Warning("Could not connect the data plane at {Host}:{Port}: {Error}; retrying", offer.Host, offer.Port, error.Message);
        }
    }

    private void StartReading()
    {
        var self = Self;
        var open = transport!;
        int latentSize = latent;
        var computer = worker!;
        var roundRunner = rounds;
        new Thread(() => ReadLoop(open, latentSize, computer, roundRunner, self)) { IsBackground = true, Name = "data-plane" }.Start();
    }

    /// <summary>Receives shards and Bye until the connection ends; runs on its own thread.</summary>
    private void ReadLoop(ITransportToCoordinator open, int latent, IActorRef computer, IActorRef? roundRunner, IActorRef self)
    {
        int trainSamples = train.Count;
        try
        {
            while (true)
            {
                // A shard goes to the WorkerPool as soon as its header is read, while its step's parameters still
                // stream in: the workers start each layer once its tensors have arrived (ParameterArrival).
                switch (open.Receive(onShard: (shard, arrival) =>
                {
                    if (shard.Latent != latent) throw new WireError($"shard noise has latent size {shard.Latent}, the model {latent}");
                    if (shard.SampleIndices.Any(i => i < 0 || i >= trainSamples))
                        throw new WireError($"shard names a sample outside this worker's {trainSamples} training images");
                    // Straight to the WorkerPool, answering to this link: one thread hand-off fewer per shard,
                    // which counts on a machine whose cores are all computing.
                    computeStarted[(shard.Step, shard.ShardIndex)] = Stopwatch.GetTimestamp();
                    computer.Tell(new ComputeShard(shard.Step, shard.ShardIndex, shard.SampleIndices, shard.Noise, shard.Whole, arrival), self);
                }))
                {
                    case ShardFrame:
                        break; // handed on above
                    case ArrivedRound { Header: var round } arrived:
                        if (roundRunner is null)
                        {
                            arrived.Inner?.Dispose();
                            throw new WireError("a round came, but the coordinator offered synchronous training");
                        }
                        if (round.Latent != latent) throw new WireError($"round noise has latent size {round.Latent}, the model {latent}");
                        if (round.Steps.Any(s => s.SampleIndices.Any(i => i < 0 || i >= trainSamples)))
                            throw new WireError($"a round names a sample outside this worker's {trainSamples} training images");
                        var start = new InnerStart((InnerStartKind)round.Inner, arrived.Inner);
                        roundRunner.Tell(new ComputeRound(round.Round, round.Slot,
                            round.Steps.Select(s => new ComputeShard(s.Step, s.ShardIndex, s.SampleIndices, s.Noise)).ToList(),
                            round.LearningRate, start, round.ReturnInner), self);
                        break;
                    case ByeFrame bye:
                        self.Tell(new ByeArrived(bye.Reason));
                        return;
                    case var other:
                        throw new WireError($"a coordinator may not send {other.Kind} frames after Welcome");
                }
            }
        }
        catch (Exception error)
        {
            self.Tell(new ConnectionLost(error.Message));
        }
    }

    private void End(WorkerSessionOutcome outcome, string reason)
    {
        ended.TrySetResult(new WorkerSessionEnd(outcome, reason));
        Become(() => ReceiveAny(message =>
        {
            (message as ShardGradient)?.Gradient.Dispose();
            if (message is RoundResult round) { round.Change.Dispose(); round.Inner?.Dispose(); }
        }));
    }

    protected override void PostStop()
    {
        Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
        transport?.Dispose(); // ends the reader thread
        parameterBuffer?.Dispose();
    }
}
