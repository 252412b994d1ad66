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
    private readonly TaskCompletionSource<WorkerSessionEnd> ended;
    private readonly ILogger log;
    private Address? coordinatorNode;
    private FrameChannel? channel;
    private IVae? parameterBuffer;
    private IActorRef? worker;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(long Step, int Shard), long> computeStarted = new();
    private long gradientsSent; // the n-th gradient goes to shared-memory slot n mod gradientSlots
    private int gradientSlots = 1;
    private int attempts;
    private int latent;
    private SharedTensorRegion? sharedParameters, sharedGradients;
    private IReadOnlyList<(string Name, Tensor Tensor)>? mappedParameters;

    public ITimerScheduler Timers { get; set; } = null!;

    public CoordinatorLink(string workerId, int actors, MnistSplit train, string? secret, TaskCompletionSource<WorkerSessionEnd> ended, ILogger log)
    {
        this.workerId = workerId;
        this.actors = actors;
        this.train = train;
        this.secret = secret;
        this.ended = ended;
        this.log = log;
        Joining();
    }

    public static Props Props(string workerId, int actors, MnistSplit train, string? secret, TaskCompletionSource<WorkerSessionEnd> ended, ILogger log) =>
        Akka.Actor.Props.Create(() => new CoordinatorLink(workerId, actors, train, secret, ended, log));

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
            else if (++attempts % 3 == 0) log.Warning("Waiting for the coordinator to appear in the cluster");
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
        Receive<ShardFailed>(_ => { });
    }

    private void Connected()
    {
        Receive<RegisterWorker>(_ =>
        {
            // On the coordinator's machine the models compute straight from the published parameters.
            Sender.Tell(new WorkerAccepted(workerId, new SharedParameters(mappedParameters ?? parameterBuffer!.NamedParameters())));
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
                var frame = new GradientFrame(result.Step, result.ShardIndex, result.SampleCount, result.LossSum, computeMicros);
                if (sharedGradients is null) channel!.Send(frame, gradient.Tensors);
                else
                {
                    // The coordinator sends a shard only while this node holds fewer than the slots, each after
                    // reading an earlier answer: slot n mod slots is free again by the time answer n is written.
                    sharedGradients.Write(gradient.Tensors, (int)(gradientsSent++ % gradientSlots));
                    channel!.Send(frame);
                }
            }
            catch (Exception error)
            {
                End(WorkerSessionOutcome.Lost, $"sending a gradient failed: {error.Message}");
            }
        });
        Receive<ShardFailed>(failed =>
        {
            computeStarted.TryRemove((failed.Step, failed.ShardIndex), out _);
            try { channel!.Send(new ShardFailedFrame(failed.Step, failed.ShardIndex, failed.Reason)); }
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
        gateway.Tell(new JoinTraining(workerId, JoinTraining.CurrentProtocol, train.Count, train.Sha256, actors));
    }

    private void Connect(DataPlaneOffer offer)
    {
        try
        {
            var shape = offer.Model;
            parameterBuffer = ModelFactory.Create(shape);
            var layout = TensorLayout.Of(parameterBuffer.NamedParameters());
            OpenSharedMemory(offer.SharedMemory, TensorLayout.PayloadBytes(layout));
            gradientSlots = Math.Max(1, offer.SharedMemory?.GradientSlots ?? 1);
            gradientsSent = 0;
            if (sharedParameters is not null)
                mappedParameters = layout.Zip(sharedParameters.MapTensors(layout), (l, t) => (l.Name, t)).ToList();
            channel = FrameChannel.Connect(offer.Host, offer.Port, HandshakeDeadline);
            channel.SetReceiveTimeout(HandshakeDeadline);
            if (channel.Receive().Message is not ChallengeFrame challenge) throw new WireError("expected a Challenge from the coordinator");
            channel.Send(new HelloFrame(workerId, offer.Token, SharedMemory: sharedGradients is not null,
                Proof: ClusterSecret.Prove(secret, challenge.Nonce, workerId, offer.Token)));
            var answer = channel.Receive();
            if (answer.Message is RefusedFrame refused)
            {
                End(WorkerSessionOutcome.Refused, $"the coordinator refused the data plane: {refused.Reason}");
                return;
            }
            if (answer.Message is not WelcomeFrame welcome) throw new WireError($"expected Welcome, got {answer.Message.Kind}");
            if (!TensorLayout.SameAs(welcome.Layout, layout))
            {
                End(WorkerSessionOutcome.Refused,
                    $"the coordinator's model ({string.Join(", ", welcome.Layout)}) is not the one this worker builds ({string.Join(", ", layout)})");
                return;
            }
            channel.SetReceiveTimeout(null);
            Timers.Cancel(nameof(TryJoin));
            Timers.Cancel(nameof(OutOfPatience));
            Become(Connected);
            latent = shape.Latent;
            worker = Context.ActorOf(WorkerPool.Props(workerId, actors, Self, shape, train), "workers");
            log.Information("Worker node {Worker} with {Actors} workers joined: data plane connected to {Remote} ({Transport})", workerId, actors, channel.Remote,
                sharedGradients is null ? "tensors over TCP" : "tensors through shared memory");
        }
        catch (Exception error)
        {
            channel?.Dispose();
            channel = null;
            CloseSharedMemory();
            log.Warning("Could not connect the data plane at {Host}:{Port}: {Error}; retrying", offer.Host, offer.Port, error.Message);
        }
    }

    /// <summary>Uses the offered shared memory when this node can open it, i.e. runs on the coordinator's machine.</summary>
    private void OpenSharedMemory(SharedMemoryOffer? offer, long bytes)
    {
        CloseSharedMemory();
        if (offer is null) return;
        sharedParameters = SharedTensorRegion.TryOpen(offer.ParametersPath, bytes, offer.Cookie);
        sharedGradients = sharedParameters is null ? null : SharedTensorRegion.TryOpen(offer.GradientPath, Math.Max(1, offer.GradientSlots) * bytes, offer.Cookie);
        if (sharedGradients is null) CloseSharedMemory();
    }

    private void CloseSharedMemory()
    {
        sharedParameters?.Dispose();
        sharedGradients?.Dispose();
        sharedParameters = sharedGradients = null;
    }

    private void StartReading()
    {
        var self = Self;
        var open = channel!;
        var parameters = parameterBuffer!.NamedParameters().Select(p => p.Tensor).ToList();
        int latentSize = latent;
        var fromSharedMemory = sharedParameters;
        var computer = worker!;
        new Thread(() => ReadLoop(open, parameters, fromSharedMemory, latentSize, computer, self)) { IsBackground = true, Name = "data-plane" }.Start();
    }

    /// <summary>Receives Shard and Bye frames until the connection ends; runs on its own thread.</summary>
    private void ReadLoop(FrameChannel open, IReadOnlyList<Tensor> parameters, SharedTensorRegion? fromSharedMemory, int latent,
        IActorRef computer, IActorRef self)
    {
        int trainSamples = train.Count;
        long parametersOf = -1; // the step whose parameters the buffer holds (TCP)
        try
        {
            while (true)
            {
                var frame = open.Receive();
                switch (frame.Message)
                {
                    case ShardFrame shard:
                        if (shard.Latent != latent) throw new WireError($"shard noise has latent size {shard.Latent}, the model {latent}");
                        if (shard.SampleIndices.Any(i => i < 0 || i >= trainSamples))
                            throw new WireError($"shard names a sample outside this worker's {trainSamples} training images");
                        // The parameters come with a step's first shard only; a node is sent a step's parameters
                        // while it computes nothing of another step that still counts, so the buffer is free.
                        // Over shared memory the models already compute from the parameters the coordinator published.
                        if (fromSharedMemory is not null)
                        {
                            if (frame.PayloadBytes != 0) throw new WireError("a shard sent a payload over a shared-memory connection");
                        }
                        else if (frame.PayloadBytes != 0)
                        {
                            open.ReceivePayload(frame, parameters);
                            parametersOf = shard.Step;
                        }
                        else if (parametersOf != shard.Step)
                            throw new WireError($"a shard of step {shard.Step} came without parameters, and none of that step came before");
                        // Straight to the WorkerPool, answering to this link: one thread hand-off fewer per shard,
                        // which counts on a machine whose cores are all computing.
                        computeStarted[(shard.Step, shard.ShardIndex)] = Stopwatch.GetTimestamp();
                        computer.Tell(new ComputeShard(shard.Step, shard.ShardIndex, shard.SampleIndices, shard.Noise, shard.Whole), self);
                        break;
                    case ByeFrame bye:
                        self.Tell(new ByeArrived(bye.Reason));
                        return;
                    default:
                        throw new WireError($"a coordinator may not send {frame.Message.Kind} frames after Welcome");
                }
            }
        }
        catch (Exception error)
        {
            self.Tell(new ConnectionLost(error.Message));
        }
        finally
        {
            fromSharedMemory?.Dispose(); // this thread is its only reader: unmapped only once it is done
        }
    }

    private void End(WorkerSessionOutcome outcome, string reason)
    {
        ended.TrySetResult(new WorkerSessionEnd(outcome, reason));
        Become(() => ReceiveAny(message => (message as ShardGradient)?.Gradient.Dispose()));
    }

    protected override void PostStop()
    {
        Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
        channel?.Dispose(); // ends the reader thread, which releases the shared parameters
        sharedGradients?.Dispose();
        foreach (var (_, t) in mappedParameters ?? []) t.Dispose();
        parameterBuffer?.Dispose();
    }
}
