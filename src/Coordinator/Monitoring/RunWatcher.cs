using Akka.Actor;
using VaeCluster.Protocol;

namespace VaeCluster.Coordinator.Monitoring;

/// <summary>
/// Follows a run for the dashboard, the metrics and TensorBoard: StepApplied and TrainingFinished from the event
/// stream, run events from the coordinator's log tap. It alone changes the <see cref="WatchedRun"/>; a few times
/// a second it posts an immutable snapshot to the board, which web requests read on their own threads.
/// </summary>
public sealed class RunWatcher : ReceiveActor, IWithTimers
{
    private sealed class Tick { public static readonly Tick Instance = new(); }
    private static readonly TimeSpan TickEvery = TimeSpan.FromMilliseconds(250), RepublishEvery = TimeSpan.FromSeconds(1);

    private readonly WatchPlan plan;
    private readonly Func<TimeSpan> clock;
    private readonly WatchedRun run;
    private IActorRef tensorBoard = ActorRefs.Nobody;
    private bool dirty = true;
    private TimeSpan lastPublished = TimeSpan.MinValue;

    public ITimerScheduler Timers { get; set; } = null!;

    public RunWatcher(WatchPlan plan, Func<TimeSpan> clock)
    {
        this.plan = plan;
        this.clock = clock;
        run = new WatchedRun(plan.Facts);
        Receive<StepApplied>(step =>
        {
            if (run.Record(step, clock()) is { } point)
                tensorBoard.Tell(new TensorBoardScalars(point.Step, point.SamplesPerSecond is double rate
                    ? [new("train/loss", point.Loss), new("train/samples_per_s", rate)]
                    : [new("train/loss", point.Loss)]));
            dirty = true;
        });
        Receive<RunEvent>(e =>
        {
            if (run.Record(e) is { } epoch)
            {
                tensorBoard.Tell(new TensorBoardScalars(epoch.Step, [new("test/loss", epoch.TestLoss), new("train/epoch_loss", epoch.TrainLoss)]));
                tensorBoard.Tell(new TensorBoardPictures(epoch.Step, [new("samples", plan.SamplesPicture), new("reconstructions", plan.ReconstructionsPicture)]));
            }
            dirty = true;
        });
        Receive<TrainingFinished>(finished =>
        {
            run.Record(finished);
            Publish();
        });
        Receive<Tick>(_ =>
        {
            if (dirty || clock() - lastPublished >= RepublishEvery) Publish();
            else plan.Board.Beat();
        });
    }

    public static Props Props(WatchPlan plan, Func<TimeSpan> clock) => Akka.Actor.Props.Create(() => new RunWatcher(plan, clock));

    protected override void PreStart()
    {
        tensorBoard = Context.ActorOf(TensorBoardLog.Props(plan.TensorBoardDirectory), "tensorboard");
        Context.System.EventStream.Subscribe(Self, typeof(StepApplied));
        Context.System.EventStream.Subscribe(Self, typeof(TrainingFinished));
        plan.Tap.Attach(Self);
        Timers.StartPeriodicTimer(nameof(Tick), Tick.Instance, TickEvery);
        Publish();
    }

    protected override void PostStop() => plan.Tap.Detach(Self);

    private void Publish()
    {
        var now = clock();
        plan.Board.Publish(run.Snapshot(now, DateTimeOffset.Now));
        lastPublished = now;
        dirty = false;
    }
}
