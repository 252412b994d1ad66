using Akka.Actor;
using Akka.TestKit.Xunit2;
using VaeCluster.Coordinator.Monitoring;
using VaeCluster.Protocol;
using Xunit;
using static VaeCluster.Tests.Monitoring.TrainingProgressTests;

namespace VaeCluster.Tests.Monitoring;

/// <summary>The progress display actor, following the event stream, with a recording view instead of a terminal.</summary>
public sealed class ProgressDisplaySpecs : TestKit
{
    private sealed class RecordingView : IProgressView
    {
        public readonly List<ProgressSnapshot> Shown = [];
        public bool Closed { get; private set; }

        public void Show(ProgressSnapshot snapshot)
        {
            lock (Shown) Shown.Add(snapshot);
        }

        public void Dispose() => Closed = true;
    }

    private readonly List<RecordingView> opened = [];
    private TimeSpan now;

    private IActorRef StartDisplay()
    {
        var display = Sys.ActorOf(ProgressDisplay.Props(new ProgressPlan(3, 100), Open, () => now += TimeSpan.FromSeconds(0.1)));
        // Once it answers, PreStart has run and it is subscribed: nothing published from here on is missed.
        display.Ask<ActorIdentity>(new Identify(null), TimeSpan.FromSeconds(3)).Wait();
        return display;
    }

    private RecordingView Open()
    {
        var view = new RecordingView();
        lock (opened) opened.Add(view);
        return view;
    }

    [Fact]
    public async Task Should_open_the_view_at_the_first_step_and_show_every_step()
    {
        StartDisplay();
        Assert.Empty(opened);

        for (int i = 0; i < 3; i++) Sys.EventStream.Publish(Step(1, i));

        await AwaitAssertAsync(() =>
        {
            var view = Assert.Single(opened);
            lock (view.Shown) Assert.Equal([1, 2, 3], view.Shown.Select(s => s.StepsDone));
            Assert.Equal(1280, view.Shown[^1].SamplesPerSecond!.Value, 6); // 128 samples every 0.1 s of the test clock
            Assert.Equal(2, view.Shown[^1].Workers);
        });
    }

    [Fact]
    public async Task Should_close_the_view_when_training_finishes_and_not_reopen_it()
    {
        StartDisplay();
        Sys.EventStream.Publish(Step(1, 0));
        await AwaitAssertAsync(() => Assert.Single(opened));

        Sys.EventStream.Publish(new TrainingFinished(true, null));
        Sys.EventStream.Publish(Step(1, 1));

        await AwaitAssertAsync(() => Assert.True(opened[0].Closed));
        await Task.Delay(100);
        Assert.Single(opened);
        Assert.Single(opened[0].Shown);
    }

    [Fact]
    public async Task Should_give_the_terminal_back_when_stopped_mid_run()
    {
        var display = StartDisplay();
        Sys.EventStream.Publish(Step(1, 0));
        await AwaitAssertAsync(() => Assert.Single(opened));

        Sys.Stop(display);

        await AwaitAssertAsync(() => Assert.True(opened[0].Closed));
    }
}
