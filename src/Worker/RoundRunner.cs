using Akka.Actor;
using Akka.Event;
using VaeCluster.Model;
using VaeCluster.Protocol;
using VaeCluster.Training;
using static TorchSharp.torch;

namespace VaeCluster.Worker;

/// <summary>
/// A worker node's local rounds (<c>--sync-every H</c> above 1): it stands between the node's upstream (the
/// coordinator, or the link that stands in for it) and the node's <see cref="WorkerPool"/>. For each
/// <see cref="ComputeRound"/> it copies the round's starting parameters into its own working copy, which the pool's
/// replicas share, hands the pool the node's share of each global batch in turn and applies each summed gradient
/// with its inner Adam, then answers the change (start minus end). The inner Adam lives here across rounds, as
/// DiLoCo keeps it per worker; the coordinator says when to start it afresh or from a saved state.
/// To the pool it is the coordinator; to upstream it is the node (it registers with the pool's registration).
/// </summary>
public sealed class RoundRunner : ReceiveActor
{
    /// <summary>The round being trained: its next step and what each step's answer was.</summary>
    private sealed class Running(ComputeRound round, IActorRef replyTo, IReadOnlyList<Tensor> start)
    {
        public ComputeRound Round { get; } = round;
        public IActorRef ReplyTo { get; } = replyTo;
        public IReadOnlyList<Tensor> Start { get; } = start;
        public long Started { get; } = System.Diagnostics.Stopwatch.GetTimestamp();
        public List<RoundStepLoss> Losses { get; } = new();
        public int Next { get; set; }
    }

    private readonly string nodeId;
    private readonly IActorRef upstream;
    private readonly IVae working;
    private readonly IReadOnlyList<(string Name, Tensor Tensor)> workingParameters;
    private readonly ILoggingAdapter log = Context.GetLogger();
    private IActorRef? pool;
    private IReadOnlyList<Tensor>? upstreamParameters;
    private Adam? inner;
    private Running? running;

    public RoundRunner(string nodeId, IActorRef upstream, ModelShape shape)
    {
        this.nodeId = nodeId;
        this.upstream = upstream;
        working = ModelFactory.Create(shape);
        workingParameters = working.NamedParameters();

        Receive<RegisterWorker>(register =>
        {
            pool = Sender;
            upstream.Tell(register, Self); // the node registers as itself, with the pool's actors
        });
        Receive<WorkerAccepted>(accepted =>
        {
            upstreamParameters = accepted.Parameters.Tensors.Select(p => p.Tensor).ToList();
            pool?.Tell(accepted with { Parameters = new SharedParameters(workingParameters) });
        });
        Receive<ComputeRound>(round => Guard(() => Start(round, Sender)));
        Receive<ShardGradient>(result => Guard(() => OnStep(result, null)));
        Receive<ShardFailed>(failed => Guard(() => OnStep(null, failed)));
    }

    public static Props Props(string nodeId, IActorRef upstream, ModelShape shape) =>
        Akka.Actor.Props.Create(() => new RoundRunner(nodeId, upstream, shape));

    private void Start(ComputeRound round, IActorRef replyTo)
    {
        if (running is not null || upstreamParameters is null || pool is null)
        {
            // The coordinator sends a node one round at a time, after accepting it; anything else is a stale duplicate.
            round.Inner.State?.Dispose();
            return;
        }
        using (no_grad())
        {
            foreach (var ((_, w), u) in workingParameters.Zip(upstreamParameters)) w.copy_(u);
        }
        PrepareInner(round);
        running = new Running(round, replyTo, workingParameters.Select(p => p.Tensor.clone()).ToList());
        Next();
    }

    private void PrepareInner(ComputeRound round)
    {
        var start = round.Inner;
        if (start.Kind == InnerStartKind.Keep && inner is not null) return;
        if (start.Kind == InnerStartKind.Keep)
            log.Warning("Worker node {0} was told to keep an inner optimizer state it does not have; starting it afresh", nodeId);
        inner?.Dispose();
        inner = new Adam(workingParameters, round.LearningRate);
        if (start is { Kind: InnerStartKind.Load, State: { } state })
        {
            using (state) inner.Restore(state.Step, state.ExpAvg, state.ExpAvgSq);
        }
    }

    private void Next()
    {
        var r = running!;
        if (r.Next < r.Round.Steps.Count)
        {
            pool!.Tell(r.Round.Steps[r.Next]);
            return;
        }
        Finish(r);
    }

    /// <summary>
    /// One local step answered by the pool: applied with the inner Adam, unless its loss or gradient is not finite or
    /// it could not be computed (passed over with a NaN loss, as a synchronous run skips such a step).
    /// </summary>
    private void OnStep(ShardGradient? result, ShardFailed? failed)
    {
        var r = running;
        long step = result?.Step ?? failed!.Step;
        if (r is null || r.Next >= r.Round.Steps.Count || r.Round.Steps[r.Next].Step != step)
        {
            result?.Gradient.Dispose();
            return;
        }
        var shard = r.Round.Steps[r.Next];
        double loss = double.NaN;
        if (result is not null)
        {
            using var gradient = result.Gradient;
            if (double.IsFinite(result.LossSum) && FiniteCheck.AllFinite(gradient.Tensors))
            {
                inner!.Apply(gradient.Tensors);
                loss = result.LossSum;
            }
        }
        if (failed is not null) log.Warning("Worker node {0} could not compute step {1} of its round: {2}", nodeId, step, failed.Reason);
        r.Losses.Add(new RoundStepLoss(shard.Step, shard.SampleIndices.Length, loss));
        r.Next++;
        Next();
    }

    private void Finish(Running r)
    {
        running = null;
        List<Tensor> change;
        using (no_grad())
        {
            change = r.Start.Zip(workingParameters, (s, w) => s.sub_(w.Tensor)).ToList(); // start minus end, in place
        }
        var state = r.Round.ReturnInner
            ? new InnerOptimizerState(inner!.Step, inner.ExpAvg.Select(t => t.clone()).ToList(), inner.ExpAvgSq.Select(t => t.clone()).ToList())
            : null;
        long micros = (long)System.Diagnostics.Stopwatch.GetElapsedTime(r.Started).TotalMicroseconds;
        r.ReplyTo.Tell(new RoundResult(r.Round.Round, r.Round.Slot, nodeId, new GradientSum(change), r.Losses, state,
            new ShardCost(micros, 0, 0)));
    }

    private void Guard(Action handler)
    {
        try { handler(); }
        catch (Exception error)
        {
            // No answer: the coordinator drops this node's part of the round at its deadline, as for a lost node.
            log.Error(error, "Worker node {0} could not finish its round: {1}", nodeId, error.Message);
            if (running is { } r) foreach (var t in r.Start) t.Dispose();
            running = null;
        }
    }

    protected override void PostStop()
    {
        if (running is { } r) foreach (var t in r.Start) t.Dispose();
        inner?.Dispose();
        working.Dispose();
    }
}
