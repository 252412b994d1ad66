using Akka.Actor;
using VaeCluster.Protocol;

namespace VaeCluster.Coordinator.Monitoring;

/// <summary>
/// Follows training on the event stream (StepApplied, TrainingFinished) and keeps a progress view up to date.
/// The view opens at the first applied step, so messages of the start-up (workers joining) print as usual.
/// </summary>
public sealed class ProgressDisplay : ReceiveActor
{
    private readonly TrainingProgress progress;
    private readonly Func<IProgressView> openView;
    private readonly Func<TimeSpan> clock;
    private IProgressView? view;

    public ProgressDisplay(ProgressPlan plan, Func<IProgressView> openView, Func<TimeSpan> clock)
    {
        progress = new TrainingProgress(plan);
        this.openView = openView;
        this.clock = clock;
        Receive<StepApplied>(step =>
        {
            progress.Record(step, clock());
            view ??= openView();
            view.Show(progress.Snapshot()!);
        });
        Receive<TrainingFinished>(_ =>
        {
            Close();
            Become(() => ReceiveAny(_ => { })); // the run is over: nothing may reopen the display
        });
    }

    public static Props Props(ProgressPlan plan, Func<IProgressView> openView, Func<TimeSpan> clock) =>
        Akka.Actor.Props.Create(() => new ProgressDisplay(plan, openView, clock));

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(StepApplied));
        Context.System.EventStream.Subscribe(Self, typeof(TrainingFinished));
    }

    // A run stopped by Ctrl-C never finishes: the display must still give the terminal back.
    protected override void PostStop() => Close();

    private void Close()
    {
        view?.Dispose();
        view = null;
    }
}
