using Akka.Actor;
using Akka.Event;
using VaeCluster.Data;
using VaeCluster.Model;
using VaeCluster.Protocol;
using VaeCluster.Training;

namespace VaeCluster.Worker;

/// <summary>
/// A worker node's K worker actors, seen by the coordinator as one participant with K actors: the node takes the
/// parameters once and answers one gradient per shard, whatever K is. It cuts each shard across its actors
/// (contiguous pieces, as the coordinator cuts a batch), adds their gradients in piece order and answers one
/// ShardGradient. A <see cref="ComputeShard.Whole"/> shard (deterministic runs) goes to one actor uncut and is
/// answered on its own, so the coordinator's in-order sum sees the same shard gradients on any layout.
/// Single-process mode runs one pool beside the coordinator; a worker node runs one behind its CoordinatorLink.
/// </summary>
public sealed class WorkerPool : ReceiveActor
{
    /// <summary>One shard from upstream, in pieces being computed by the actors.</summary>
    private sealed class Job(ComputeShard shard, IActorRef replyTo, int pieces)
    {
        public ComputeShard Shard { get; } = shard;
        public long Started { get; } = System.Diagnostics.Stopwatch.GetTimestamp();
        public IActorRef ReplyTo { get; } = replyTo;
        public ShardGradient?[] Results { get; } = new ShardGradient?[pieces];
        public int Answered { get; set; }
        public string? Failure { get; set; }
        public bool Complete => Answered == Results.Length;
    }

    private readonly string nodeId;
    private readonly int actorCount;
    private readonly IActorRef upstream;
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly Queue<IActorRef> free = new();
    private readonly Queue<(Job Job, int Index, ComputeShard Piece)> waiting = new();
    private readonly Dictionary<IActorRef, (Job Job, int Index, ComputeShard Piece)> running = new();
    private readonly List<IActorRef> registered = new();
    private WorkerAccepted? accepted;

    /// <param name="belowDataPlane">Compute at a lower priority than the node's data plane (a worker node: <see cref="WorkerActor"/>).</param>
    public WorkerPool(string nodeId, int actors, IActorRef upstream, ModelShape shape, MnistSplit train, bool belowDataPlane = false)
    {
        if (actors < 1) throw new ArgumentOutOfRangeException(nameof(actors));
        this.nodeId = nodeId;
        actorCount = actors;
        this.upstream = upstream;
        for (int i = 1; i <= actors; i++)
            Context.ActorOf(WorkerActor.Props($"{nodeId}.{i}", Self, shape, train, belowDataPlane), $"actor-{i}");

        Receive<RegisterWorker>(_ => OnActorRegistered(Sender));
        Receive<WorkerAccepted>(OnAccepted);
        Receive<ComputeShard>(shard => OnShard(shard, Sender));
        Receive<ShardGradient>(result => OnPieceDone(Sender, result, null));
        Receive<ShardFailed>(failed => OnPieceDone(Sender, null, failed.Reason));
    }

    public static Props Props(string nodeId, int actors, IActorRef upstream, ModelShape shape, MnistSplit train, bool belowDataPlane = false) =>
        Akka.Actor.Props.Create(() => new WorkerPool(nodeId, actors, upstream, shape, train, belowDataPlane));

    protected override void PreStart() => upstream.Tell(new RegisterWorker(nodeId, actorCount, Environment.MachineName));

    /// <summary>The coordinator's parameters, which every actor's replica shares (in a node: the link's buffer).</summary>
    private void OnAccepted(WorkerAccepted upstreamAccepted)
    {
        if (accepted is not null) return;
        accepted = upstreamAccepted;
        foreach (var actor in registered) Admit(actor);
        Dispatch();
    }

    /// <summary>An actor started (or restarted, dropping what it held: its piece is computed again).</summary>
    private void OnActorRegistered(IActorRef actor)
    {
        if (running.Remove(actor, out var lost)) waiting.Enqueue(lost);
        if (!registered.Contains(actor)) registered.Add(actor);
        if (accepted is null) return;
        Admit(actor);
        Dispatch();
    }

    private void Admit(IActorRef actor)
    {
        actor.Tell(accepted! with { WorkerId = actor.Path.Name });
        if (!free.Contains(actor)) free.Enqueue(actor);
    }

    private void OnShard(ComputeShard shard, IActorRef replyTo)
    {
        var pieces = shard.Whole ? [shard] : ShardPlanner.Cut(GlobalBatch.Of(shard), actorCount).Select(p => p with { Arrival = shard.Arrival }).ToList();
        var job = new Job(shard, replyTo, pieces.Count);
        for (int i = 0; i < pieces.Count; i++) waiting.Enqueue((job, i, pieces[i]));
        Dispatch();
    }

    private void Dispatch()
    {
        while (waiting.Count > 0 && free.Count > 0)
        {
            var actor = free.Dequeue();
            var next = waiting.Dequeue();
            running[actor] = next;
            actor.Tell(next.Piece);
        }
    }

    private void OnPieceDone(IActorRef actor, ShardGradient? result, string? failure)
    {
        if (!running.Remove(actor, out var held))
        {
            result?.Gradient.Dispose();
            return;
        }
        free.Enqueue(actor);
        var job = held.Job;
        job.Results[held.Index] = result;
        job.Failure ??= failure;
        job.Answered++;
        if (job.Complete) Answer(job);
        Dispatch();
    }

    /// <summary>One answer per upstream shard: the pieces' gradients summed in piece order, or the first failure.</summary>
    private void Answer(Job job)
    {
        var shard = job.Shard;
        if (job.Failure is { } reason)
        {
            foreach (var r in job.Results) r?.Gradient.Dispose();
            log.Warning("Worker node {0} could not compute shard {1} of step {2}: {3}", nodeId, shard.ShardIndex, shard.Step, reason);
            job.ReplyTo.Tell(new ShardFailed(shard.Step, shard.ShardIndex, nodeId, reason));
            return;
        }
        var results = job.Results.Select(r => r!).ToList();
        var (sum, finite) = GradientCombiner.SumInShardOrder(results); // into the first piece's tensors
        foreach (var r in results.Skip(1)) r.Gradient.Dispose();
        long computeMicros = (long)System.Diagnostics.Stopwatch.GetElapsedTime(job.Started).TotalMicroseconds;
        job.ReplyTo.Tell(new ShardGradient(shard.Step, shard.ShardIndex, nodeId, new GradientSum(sum, knownFinite: finite),
            results.Sum(r => r.LossSum), results.Sum(r => r.SampleCount), new ShardCost(computeMicros, 0, 0)));
    }
}
