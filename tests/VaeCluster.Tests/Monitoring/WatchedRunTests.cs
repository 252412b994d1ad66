using VaeCluster.Coordinator.Monitoring;
using VaeCluster.Protocol;
using Xunit;
using static VaeCluster.Tests.Monitoring.TrainingProgressTests;

namespace VaeCluster.Tests.Monitoring;

/// <summary>The state behind the dashboard and the metrics, fed with steps and run events at chosen times.</summary>
public sealed class WatchedRunTests
{
    private static readonly ProgressPlan Plan = new(Epochs: 3, StepsPerEpoch: 100);
    private static readonly WatchFacts InProcess = new(Plan, LogEvery: 10, PayloadBytes: 0, InProcessWorkers: true) { CoordinatorHost = "here" };
    private static readonly WatchFacts Cluster = new(Plan, LogEvery: 10, PayloadBytes: 1000, InProcessWorkers: false);

    private static RunEvent Event(RunEventKind kind, string? worker = null, string? remote = null, EpochFigures? epoch = null) =>
        new(DateTimeOffset.Now, "Information", kind, kind.ToString(), worker, remote, epoch);

    [Fact]
    public void Should_count_steps_samples_and_reassigned_shards()
    {
        var run = new WatchedRun(InProcess);
        for (int i = 0; i < 5; i++) run.Record(Step(1, i, reassigned: i == 3 ? [0, 1] : null), TimeSpan.FromSeconds(i * 0.01));

        var s = run.Snapshot(TimeSpan.FromSeconds(1), DateTimeOffset.Now);

        Assert.Equal(new RunCounters(StepsApplied: 5, Samples: 640, StepsSkipped: 0, ShardsReassigned: 2, Checkpoints: 0), s.Counters);
        Assert.Equal((5L, 1, 5, "training"), (s.GlobalStep, s.Epoch, s.StepInEpoch, s.Phase));
        // Four gaps of 10 ms between five steps, all in the (5 ms, 10 ms] bucket.
        Assert.Equal(4, s.StepSeconds.Count);
        Assert.Equal(4, s.StepSeconds.Counts[StepHistogram.DefaultBounds.ToList().IndexOf(0.01)]);
    }

    [Fact]
    public void Should_make_one_loss_point_per_logged_step_and_one_at_the_epoch_end()
    {
        var run = new WatchedRun(InProcess with { Progress = new ProgressPlan(3, 25) });
        var points = new List<LossPoint>();
        for (int i = 0; i < 25; i++)
            if (run.Record(Step(1, i, lossPerImage: i < 10 ? 200 : 100), TimeSpan.FromSeconds(i * 0.1)) is { } p) points.Add(p);

        Assert.Equal([10L, 20, 25], points.Select(p => p.Step));
        Assert.Equal([200.0, 100, 100], points.Select(p => p.Loss));
        // The first point's clock starts at its first step: 9 further steps of 128 samples in 0.9 s.
        Assert.Equal(1280, points[0].SamplesPerSecond!.Value, 6);
        Assert.Equal("evaluating", run.Snapshot(TimeSpan.FromSeconds(3), DateTimeOffset.Now).Phase);
    }

    [Fact]
    public void Should_record_an_epochs_losses_and_pictures_and_go_back_to_training()
    {
        var run = new WatchedRun(InProcess);
        run.Record(Step(1, 99), TimeSpan.Zero);

        var point = run.Record(Event(RunEventKind.Epoch, epoch: new EpochFigures(1, TrainLoss: 150, TestLoss: 140, SamplesPerSecond: 9000)));

        Assert.Equal(new EpochPoint(1, 100, 150, 140), point);
        var s = run.Snapshot(TimeSpan.Zero, DateTimeOffset.Now);
        Assert.Equal((1, "training"), (s.Pictures, s.Phase));
        Assert.Equal([point!], s.TestLoss);
    }

    [Fact]
    public void Should_count_checkpoints_and_skipped_steps_and_follow_pauses()
    {
        var run = new WatchedRun(InProcess);
        run.Record(Step(1, 0), TimeSpan.Zero);
        run.Record(Event(RunEventKind.Checkpoint));
        run.Record(Event(RunEventKind.Skip));
        run.Record(Event(RunEventKind.Pause));
        Assert.Equal("paused", run.Snapshot(TimeSpan.Zero, DateTimeOffset.Now).Phase);
        run.Record(Event(RunEventKind.Resume));

        var s = run.Snapshot(TimeSpan.Zero, DateTimeOffset.Now);
        Assert.Equal((1L, 1L, "training"), (s.Counters.Checkpoints, s.Counters.StepsSkipped, s.Phase));
        Assert.Equal(4, s.Events.Count);
    }

    [Fact]
    public void Should_show_in_process_workers_as_actors_of_the_coordinators_node()
    {
        var run = new WatchedRun(InProcess);
        run.Record(Event(RunEventKind.Join, worker: "worker-1"));
        run.Record(Event(RunEventKind.Join, worker: "worker-2"));
        run.Record(Step(1, 0), TimeSpan.FromSeconds(1));

        var node = Assert.Single(run.Snapshot(TimeSpan.FromSeconds(2), DateTimeOffset.Now).Nodes);
        Assert.Equal(("coordinator", "here", "training", 2L, 0L), (node.Node, node.Host, node.State, node.Shards, node.BytesIn));
        Assert.Equal(["worker-1", "worker-2"], node.Workers);
        Assert.Equal(1.0, node.LastSeenSecondsAgo);
    }

    [Fact]
    public void Should_show_cluster_workers_as_nodes_with_their_host_and_data_plane_bytes()
    {
        var run = new WatchedRun(Cluster);
        run.Record(Event(RunEventKind.Join, worker: "worker-1", remote: "10.0.0.5:41234"));
        run.Record(Event(RunEventKind.Join, worker: "worker-2", remote: "[::1]:5000"));
        for (int i = 0; i < 3; i++) run.Record(Step(1, i, workers: ["worker-1", "worker-1", "worker-2"]), TimeSpan.Zero);
        run.Record(Event(RunEventKind.Leave, worker: "worker-2"));

        var s = run.Snapshot(TimeSpan.FromSeconds(10), DateTimeOffset.Now);

        Assert.Equal(1, s.Workers);
        Assert.Equal(
            [("worker-1", "10.0.0.5", "idle", 6L, 6000L, 6000L), ("worker-2", "::1", "left", 3L, 3000L, 3000L)],
            s.Nodes.Select(n => (n.Node, n.Host, n.State, n.Shards, n.BytesIn, n.BytesOut)));
    }

    [Fact]
    public void Should_say_how_the_run_ended()
    {
        var run = new WatchedRun(InProcess);
        run.Record(Step(1, 0), TimeSpan.Zero);
        run.Record(new TrainingFinished(false, "disk full"));
        run.Record(Step(1, 1), TimeSpan.Zero); // a late event must not bring the run back to life

        var s = run.Snapshot(TimeSpan.Zero, DateTimeOffset.Now);
        Assert.Equal(("failed", "disk full", false), (s.Phase, s.Error, s.Ready));
    }
}
