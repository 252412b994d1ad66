using System.Collections.Concurrent;
using System.Diagnostics;
using Akka;
using Akka.Actor;
using Serilog;
using VaeCluster.DataPlane;
using VaeCluster.Hosting;
using VaeCluster.Protocol;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Cluster;

/// <summary>
/// Stands in for one remote worker node inside the coordinator's process. To the coordinator it is a participant
/// like any other (it registers with the node's worker actors, takes ComputeShard, answers ShardGradient);
/// underneath, it hands the shard and its step's parameters to the node's transport (TCP or shared memory, the
/// transport's business) and turns the answer that comes back into a ShardGradient. It stops, and so leaves the
/// coordinator's list, when the connection breaks, a frame breaks the protocol, or the node leaves the cluster.
/// </summary>
public sealed class WorkerLink : ReceiveActor
{
    private sealed record ConnectionLost(string Reason);
    private sealed record InFlight(ComputeShard Shard, long StartedTicks);

    private readonly string workerId;
    private readonly int actors;
    private readonly string host;
    private readonly ITransportToNode transport;
    private readonly IActorRef coordinator;
    private readonly IActorRef workerNode;
    private readonly ILogger log;
    private readonly TransferStats stats = new();
    private IReadOnlyList<Tensor> parameters = [];
    /// <summary>Shards sent and not yet answered: one, or up to the node's actors in a deterministic run.</summary>
    private readonly ConcurrentDictionary<(long Step, int Shard), InFlight> inFlight = new();
    /// <summary>The round sent and not yet answered (--sync-every above 1), by round and slot.</summary>
    private readonly ConcurrentDictionary<(long Round, int Slot), (ComputeRound Round, long StartedTicks)> roundsInFlight = new();

    /// <param name="host">The node's machine, as its cluster address names it.</param>
    public WorkerLink(string workerId, int actors, string host, ITransportToNode transport, IActorRef coordinator, IActorRef workerNode, ILogger log)
    {
        this.workerId = workerId;
        this.actors = actors;
        this.host = host;
        this.transport = transport;
        this.coordinator = coordinator;
        this.workerNode = workerNode;
        this.log = log.ForContext("Worker", workerId);

        Receive<WorkerAccepted>(accepted =>
        {
            parameters = accepted.Parameters.Tensors.Select(p => p.Tensor).ToList();
            Become(Ready);
        });
        CommonHandlers();
    }

    public static Props Props(string workerId, int actors, string host, ITransportToNode transport, IActorRef coordinator, IActorRef workerNode, ILogger log) =>
        Akka.Actor.Props.Create(() => new WorkerLink(workerId, actors, host, transport, coordinator, workerNode, log))
            .WithDispatcher(AkkaHost.PinnedDispatcher);

    private void Ready()
    {
        Receive<ComputeShard>(shard =>
        {
            inFlight[(shard.Step, shard.ShardIndex)] = new InFlight(shard, Stopwatch.GetTimestamp());
            // The coordinator does not touch the parameters while a step is in flight, so the transport can take
            // them straight from its tensors' memory.
            try
            {
                transport.SendShard(new ShardFrame(shard.Step, shard.ShardIndex, shard.Noise.Length / shard.SampleIndices.Length,
                    shard.SampleIndices, shard.Noise, shard.Whole), parameters);
            }
            catch (Exception error)
            {
                Self.Tell(new ConnectionLost($"sending a shard failed: {error.Message}"));
            }
        });
        Receive<ComputeRound>(round =>
        {
            roundsInFlight[(round.Round, round.Slot)] = (round, Stopwatch.GetTimestamp());
            // As for a shard, the coordinator leaves the parameters alone until every part of the round is in.
            try
            {
                int latent = round.Steps[0].Noise.Length / round.Steps[0].SampleIndices.Length;
                var steps = round.Steps.Select(s => new ShardFrame(s.Step, s.ShardIndex, latent, s.SampleIndices, s.Noise)).ToList();
                transport.SendRound(new RoundFrame(round.Round, round.Slot, latent, round.LearningRate, (byte)round.Inner.Kind,
                    round.Inner.State?.Step ?? 0, round.ReturnInner, steps), parameters, round.Inner.State);
            }
            catch (Exception error)
            {
                Self.Tell(new ConnectionLost($"sending a round failed: {error.Message}"));
            }
            finally
            {
                round.Inner.State?.Dispose(); // the link received it; it has been written
            }
        });
        CommonHandlers();
    }

    private void CommonHandlers()
    {
        Receive<SayGoodbye>(bye =>
        {
            try { transport.SendBye(bye.Reason); }
            catch (Exception error) { log.Debug("Could not say Bye to worker {Worker}: {Error}", workerId, error.Message); }
            Sender.Tell(Done.Instance);
            Context.Stop(Self);
        });
        Receive<ConnectionLost>(lost =>
        {
            log.Warning("Data plane to worker {Worker} lost: {Reason}", workerId, lost.Reason);
            Context.Stop(Self);
        });
        Receive<Terminated>(_ =>
        {
            log.Warning("Worker {Worker}'s node left the cluster", workerId);
            Context.Stop(Self);
        });
    }

    protected override void PreStart()
    {
        Context.Watch(workerNode);
        var self = Self;
        new Thread(() => ReadLoop(self)) { IsBackground = true, Name = $"data-plane-{workerId}" }.Start();
        coordinator.Tell(new RegisterWorker(workerId, actors, host));
    }

    /// <summary>Receives the node's answers until the connection ends; runs on its own thread.</summary>
    private void ReadLoop(IActorRef self)
    {
        var counted = transport.Bytes; // bytes up to the previous answer; the rest are this answer's
        void Deliver(RoundAnswer round, bool innerFollows)
        {
            var header = round.Header;
            roundsInFlight.TryRemove((header.Round, header.Slot), out var sentRound);
            var movedNow = transport.Bytes;
            stats.Record(Stopwatch.GetTimestamp() - sentRound.StartedTicks, header.ComputeMicros, movedNow);
            var roundCost = new ShardCost(header.ComputeMicros, movedNow.Sent - counted.Sent, movedNow.Received - counted.Received);
            counted = movedNow;
            // A change that is not finite is a diverged round, not a corrupt frame: the coordinator skips it.
            coordinator.Tell(new RoundResult(header.Round, header.Slot, workerId, round.Change, header.Steps, round.Inner, roundCost, innerFollows), self);
        }
        try
        {
            while (true)
            {
                switch (transport.Receive(Validate, ValidateRound, changeFirst: round => Deliver(round, innerFollows: true)))
                {
                    case RoundAnswer round:
                        Deliver(round, innerFollows: false);
                        break;
                    case RoundInnerAnswer { Header: var header } inner:
                        coordinator.Tell(new RoundInnerArrived(header.Round, header.Slot, workerId, inner.Inner), self);
                        break;
                    case FailureAnswer { Failure: var failed }:
                        if (!inFlight.TryRemove((failed.Step, failed.ShardIndex), out _))
                            throw new WireError($"failure of step {failed.Step} shard {failed.ShardIndex}, which is not outstanding here");
                        coordinator.Tell(new ShardFailed(failed.Step, failed.ShardIndex, workerId, failed.Reason), self);
                        break;
                    case GradientAnswer { Header: var result } answer:
                        // A finite loss cannot have a NaN or infinite gradient: such a frame is corrupt, not a diverged
                        // model (whose non-finite loss the coordinator sees and skips the step for).
                        if (double.IsFinite(result.LossSum) && !answer.Finite)
                        {
                            answer.Gradient.Dispose();
                            throw new WireError($"gradient for step {result.Step} shard {result.ShardIndex} holds NaN or infinite values");
                        }
                        inFlight.TryRemove((result.Step, result.ShardIndex), out var sent);
                        var moved = transport.Bytes;
                        stats.Record(Stopwatch.GetTimestamp() - sent!.StartedTicks, result.ComputeMicros, moved);
                        var cost = new ShardCost(result.ComputeMicros, moved.Sent - counted.Sent, moved.Received - counted.Received);
                        counted = moved;
                        coordinator.Tell(new ShardGradient(result.Step, result.ShardIndex, workerId, answer.Gradient, result.LossSum, result.SampleCount, cost), self);
                        break;
                }
            }
        }
        catch (Exception error)
        {
            self.Tell(new ConnectionLost(error is EndOfStreamException or WireError ? error.Message : $"{error.GetType().Name}: {error.Message}"));
        }
    }

    /// <summary>The header must answer a shard that was sent: same step, shard and sample count; checked before its tensors are read.</summary>
    private void Validate(GradientFrame result)
    {
        if (!inFlight.TryGetValue((result.Step, result.ShardIndex), out var sent))
            throw new WireError($"gradient for step {result.Step} shard {result.ShardIndex}, which is not outstanding here");
        if (result.SampleCount != sent.Shard.SampleIndices.Length)
            throw new WireError($"gradient over {result.SampleCount} samples, but the shard had {sent.Shard.SampleIndices.Length}");
    }

    /// <summary>A round's answer must be the round sent: same round and slot, the same steps with the same samples.</summary>
    private void ValidateRound(RoundResultFrame result)
    {
        if (!roundsInFlight.TryGetValue((result.Round, result.Slot), out var sent))
            throw new WireError($"round {result.Round} slot {result.Slot}, which is not outstanding here");
        var steps = sent.Round.Steps;
        if (result.Steps.Count != steps.Count
            || result.Steps.Zip(steps).Any(x => x.First.Step != x.Second.Step || x.First.SampleCount != x.Second.SampleIndices.Length))
            throw new WireError($"round {result.Round} answered for other steps or samples than were sent");
        if (result.HasInner != sent.Round.ReturnInner)
            throw new WireError($"round {result.Round} {(result.HasInner ? "carries an inner state it was not asked for" : "lacks the inner state it was asked for")}");
    }

    protected override void PostStop()
    {
        var s = stats.Snapshot();
        if (s.Shards > 0)
            log.Information("Data plane to worker {Worker}: {Shards} shards, round trip {RoundTripMs:F2} ms of which compute {ComputeMs:F2} ms and transfer {TransferMs:F2} ms, {Megabytes:F0} MB moved",
                workerId, s.Shards, s.RoundTripMs, s.ComputeMs, s.TransferMs, s.Megabytes);
        transport.Dispose(); // ends the reader thread; shared memory is unmapped once no read is under way
    }
}
