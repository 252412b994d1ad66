using System.Diagnostics;
using Akka;
using Akka.Actor;
using Serilog;
using VaeCluster.DataPlane;
using VaeCluster.Hosting;
using VaeCluster.Protocol;
using VaeCluster.Training;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Cluster;

/// <summary>
/// Stands in for one remote worker node inside the coordinator's process. To the coordinator it is a participant
/// like any other (it registers with the node's worker actors, takes ComputeShard, answers ShardGradient);
/// underneath, it ships the parameters (once per step) and the shard over the node's data-plane connection and
/// turns the Gradient frame that comes back into a ShardGradient. It stops, and so leaves the coordinator's list,
/// when the connection breaks or the worker's node leaves the cluster.
/// </summary>
public sealed class WorkerLink : ReceiveActor
{
    private sealed record ConnectionLost(string Reason);
    private sealed record InFlight(ComputeShard Shard, long StartedTicks);

    private readonly string workerId;
    private readonly int actors;
    private readonly FrameChannel channel;
    private readonly IActorRef coordinator;
    private readonly IActorRef workerNode;
    private readonly IReadOnlyList<TensorLayout> layout;
    private readonly SharedMemoryLink? shared;
    private readonly ILogger log;
    private readonly TransferStats stats = new();
    private IReadOnlyList<Tensor> parameters = [];
    /// <summary>Shards sent and not yet answered: one, or up to the node's actors in a deterministic run.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(long Step, int Shard), InFlight> inFlight = new();
    private long parametersSentFor = -1;

    public WorkerLink(string workerId, int actors, FrameChannel channel, IActorRef coordinator, IActorRef workerNode,
        IReadOnlyList<TensorLayout> layout, SharedMemoryLink? shared, ILogger log)
    {
        this.shared = shared;
        this.workerId = workerId;
        this.actors = actors;
        this.channel = channel;
        this.coordinator = coordinator;
        this.workerNode = workerNode;
        this.layout = layout;
        this.log = log.ForContext("Worker", workerId);

        Receive<WorkerAccepted>(accepted =>
        {
            parameters = accepted.Parameters.Tensors.Select(p => p.Tensor).ToList();
            Become(Ready);
        });
        CommonHandlers();
    }

    public static Props Props(string workerId, int actors, FrameChannel channel, IActorRef coordinator, IActorRef workerNode,
        IReadOnlyList<TensorLayout> layout, SharedMemoryLink? shared, ILogger log) =>
        Akka.Actor.Props.Create(() => new WorkerLink(workerId, actors, channel, coordinator, workerNode, layout, shared, log))
            .WithDispatcher(AkkaHost.PinnedDispatcher);

    private void Ready()
    {
        Receive<ComputeShard>(shard =>
        {
            inFlight[(shard.Step, shard.ShardIndex)] = new InFlight(shard, Stopwatch.GetTimestamp());
            // The coordinator does not touch the parameters while a step is in flight, so they can be sent
            // straight from its tensors' memory (or published once for every co-located worker), once per step
            // however many shards of it the node holds.
            var frame = new ShardFrame(shard.Step, shard.ShardIndex, shard.Noise.Length / shard.SampleIndices.Length,
                shard.SampleIndices, shard.Noise, shard.Whole);
            if (shared is not null)
            {
                shared.Parameters.Publish(shard.Step, parameters);
                channel.Send(frame);
            }
            else if (parametersSentFor == shard.Step) channel.Send(frame);
            else
            {
                channel.Send(frame, parameters);
                parametersSentFor = shard.Step;
            }
        });
        CommonHandlers();
    }

    private void CommonHandlers()
    {
        Receive<SayGoodbye>(bye =>
        {
            try { channel.Send(new ByeFrame(bye.Reason)); }
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
        channel.Send(new WelcomeFrame(layout));
        var self = Self;
        new Thread(() => ReadLoop(self)) { IsBackground = true, Name = $"data-plane-{workerId}" }.Start();
        coordinator.Tell(new RegisterWorker(workerId, actors));
    }

    /// <summary>Receives Gradient frames until the connection ends; runs on its own thread.</summary>
    private void ReadLoop(IActorRef self)
    {
        long gradients = 0; // the n-th gradient of the node lies in shared-memory slot n mod slots
        try
        {
            while (true)
            {
                var frame = channel.Receive();
                if (frame.Message is ShardFailedFrame failed)
                {
                    OnFailed(failed, frame, self);
                    continue;
                }
                if (frame.Message is not GradientFrame result)
                    throw new WireError($"a worker may only send Gradient and ShardFailed frames here, got {frame.Message.Kind}");
                if (!inFlight.TryGetValue((result.Step, result.ShardIndex), out var expected))
                    throw new WireError($"gradient for step {result.Step} shard {result.ShardIndex}, which is not outstanding here");
                Validate(result, expected.Shard);
                var (gradient, finite) = Receive(frame, shared is null ? 0 : (int)(gradients++ % shared.GradientSlots));
                // A finite loss cannot have a NaN or infinite gradient: such a frame is corrupt, not a diverged model
                // (whose non-finite loss the coordinator sees and skips the step for).
                if (double.IsFinite(result.LossSum) && !finite)
                {
                    gradient.Dispose();
                    throw new WireError($"gradient for step {result.Step} shard {result.ShardIndex} holds NaN or infinite values");
                }
                inFlight.TryRemove((result.Step, result.ShardIndex), out _);
                stats.Record(Stopwatch.GetTimestamp() - expected.StartedTicks, result.ComputeMicros, 2 * TensorLayout.PayloadBytes(layout));
                coordinator.Tell(new ShardGradient(result.Step, result.ShardIndex, workerId, gradient, result.LossSum, result.SampleCount), self);
            }
        }
        catch (Exception error)
        {
            self.Tell(new ConnectionLost(error is EndOfStreamException or WireError ? error.Message : $"{error.GetType().Name}: {error.Message}"));
        }
        finally
        {
            shared?.Gradients.Dispose(); // this thread is the region's only reader: unmapped only once it is done
        }
    }

    /// <summary>The worker could not compute its shard: the coordinator hears it as from any worker.</summary>
    private void OnFailed(ShardFailedFrame failed, ReceivedFrame frame, IActorRef self)
    {
        if (!inFlight.TryRemove((failed.Step, failed.ShardIndex), out _))
            throw new WireError($"failure of step {failed.Step} shard {failed.ShardIndex}, which is not outstanding here");
        if (frame.PayloadBytes != 0) throw new WireError("a ShardFailed frame carries no payload");
        coordinator.Tell(new ShardFailed(failed.Step, failed.ShardIndex, workerId, failed.Reason), self);
    }

    /// <summary>The header must answer a shard that was sent: same step, shard and sample count.</summary>
    private static void Validate(GradientFrame result, ComputeShard sent)
    {
        if (result.SampleCount != sent.SampleIndices.Length)
            throw new WireError($"gradient over {result.SampleCount} samples, but the shard had {sent.SampleIndices.Length}");
    }

    /// <summary>
    /// Reads the payload straight into fresh gradient tensors, which the ShardGradient then owns, and checks them
    /// for NaN and infinities (on this thread: the coordinator's cores are busy with the step).
    /// </summary>
    private (GradientSum Gradient, bool Finite) Receive(ReceivedFrame frame, int slot)
    {
        var tensors = layout.Select(t => empty(t.Shape, ScalarType.Float32)).ToList();
        try
        {
            bool finite;
            if (shared is not null)
            {
                if (frame.PayloadBytes != 0) throw new WireError("a shared-memory worker sent a payload over the socket");
                finite = shared.Gradients.ReadChecked(tensors, slot);
            }
            else
            {
                channel.ReceivePayload(frame, tensors);
                finite = tensors.All(t => FiniteCheck.AllFinite(TensorChunks.Floats(t, 0, checked((int)t.numel()))));
            }
            return (new GradientSum(tensors), finite);
        }
        catch
        {
            foreach (var t in tensors) t.Dispose();
            throw;
        }
    }

    protected override void PostStop()
    {
        var s = stats.Snapshot();
        if (s.Shards > 0)
            log.Information("Data plane to worker {Worker}: {Shards} shards, round trip {RoundTripMs:F2} ms of which compute {ComputeMs:F2} ms and transfer {TransferMs:F2} ms, {Megabytes:F0} MB moved",
                workerId, s.Shards, s.RoundTripMs, s.ComputeMs, s.TransferMs, s.Megabytes);
        channel.Dispose(); // ends the reader thread, which releases the gradient region
    }
}
