using Akka.Actor;
using Akka.Event;
using VaeCluster.Data;
using VaeCluster.Hosting;
using VaeCluster.Model;
using VaeCluster.Protocol;

namespace VaeCluster.Worker;

/// <summary>
/// Computes shard gradients on its own model replica, for the WorkerPool that started it (its "coordinator": it
/// registers there and answers there). Runs on a pinned dispatcher (its own thread): a shard takes milliseconds of
/// blocking native compute, which must not starve Akka's shared pool.
/// </summary>
public sealed class WorkerActor : ReceiveActor
{
    private readonly string workerId;
    private readonly bool belowDataPlane;
    private readonly IActorRef coordinator;
    private readonly IVae replica;
    private readonly ShardGradientComputer computer;
    private readonly ILoggingAdapter log = Context.GetLogger();

    /// <param name="belowDataPlane">
    /// In a worker node, compute at a lower priority (<see cref="ComputePriority"/>): the node's data plane threads
    /// then get a core the moment bytes arrive or can leave. Single-process mode has no data plane to make way for.
    /// </param>
    public WorkerActor(string workerId, IActorRef coordinator, ModelShape shape, MnistSplit train, bool belowDataPlane = false)
    {
        this.belowDataPlane = belowDataPlane;
        this.workerId = workerId;
        this.coordinator = coordinator;
        replica = ModelFactory.Create(shape);
        computer = new ShardGradientComputer(replica, train);

        Receive<WorkerAccepted>(accepted =>
        {
            replica.ShareParametersOf(accepted.Parameters.Tensors);
            log.Debug("Worker {Worker} accepted by the coordinator", workerId);
            Become(Ready);
        });
    }

    private void Ready()
    {
        Receive<ComputeShard>(shard =>
        {
            // Answered either way: a worker that went silent would have its shard reassigned every step timeout.
            IStepMessage answer;
            try { answer = computer.Compute(shard, workerId); }
            catch (Exception error)
            {
                var failed = new ShardFailed(shard.Step, shard.ShardIndex, workerId, ShardFailed.ReasonOf(error));
                log.Warning("Worker {0} could not compute shard {1} of step {2}: {3}", workerId, shard.ShardIndex, shard.Step, failed.Reason);
                answer = failed;
            }
            Sender.Tell(answer);
        });
    }

    protected override void PreStart()
    {
        // PreStart runs on this actor's own (pinned) thread, which does all of its compute.
        if (belowDataPlane) ComputePriority.LowerForThisThread();
        coordinator.Tell(new RegisterWorker(workerId));
    }

    protected override void PostStop() => replica.Dispose();

    public static Props Props(string workerId, IActorRef coordinator, ModelShape shape, MnistSplit train, bool belowDataPlane = false) =>
        Akka.Actor.Props.Create(() => new WorkerActor(workerId, coordinator, shape, train, belowDataPlane))
            .WithDispatcher(AkkaHost.PinnedDispatcher);
}
