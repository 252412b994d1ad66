using VaeCluster.Coordinator.Monitoring;
using VaeCluster.Protocol;
using Xunit;

namespace VaeCluster.Tests.Monitoring;

/// <summary>The state behind the progress display, fed with StepApplied events at chosen times.</summary>
public sealed class TrainingProgressTests
{
    private static readonly ProgressPlan Plan = new(Epochs: 3, StepsPerEpoch: 100);

    internal static StepApplied Step(int epoch, int stepInEpoch, double lossPerImage = 100, int samples = 128, string[]? workers = null, int[]? reassigned = null) =>
        new((epoch - 1) * Plan.StepsPerEpoch + stepInEpoch, epoch, stepInEpoch, samples, lossPerImage * samples,
            workers ?? ["worker-1", "worker-2"], reassigned ?? []);

    [Fact]
    public void Should_have_nothing_to_show_before_the_first_step() =>
        Assert.Null(new TrainingProgress(Plan).Snapshot());

    [Fact]
    public void Should_show_epoch_step_workers_and_the_share_of_the_run_done()
    {
        var progress = new TrainingProgress(Plan);
        progress.Record(Step(2, 49, workers: ["worker-1", "worker-2", "worker-3"]), TimeSpan.Zero);

        var s = progress.Snapshot()!;

        Assert.Equal((2, 3, 50, 100, 3), (s.Epoch, s.Epochs, s.StepsDone, s.StepsPerEpoch, s.Workers));
        Assert.Equal((150, 300), (s.RunStepsDone, s.RunSteps));
        Assert.Null(s.SamplesPerSecond); // one step gives no time span to measure
    }

    [Fact]
    public void Should_measure_samples_per_second_and_loss_over_the_recent_steps()
    {
        var progress = new TrainingProgress(Plan, window: TimeSpan.FromSeconds(1));
        // 10 steps a second of 128 samples each, loss 200 for the first ten steps and then 100.
        for (int i = 0; i < 30; i++) progress.Record(Step(1, i, lossPerImage: i < 10 ? 200 : 100), TimeSpan.FromSeconds(i * 0.1));

        var s = progress.Snapshot()!;

        Assert.Equal(1280, s.SamplesPerSecond!.Value, 6);
        Assert.Equal(100, s.Loss, 6); // the early, higher losses have left the window
        Assert.Equal(10, s.StepsPerSecond!.Value, 6);
        Assert.Equal(TimeSpan.FromSeconds(27), s.Remaining); // 270 of 300 steps left, at 10 a second
    }

    [Fact]
    public void Should_start_measuring_afresh_in_each_epoch_so_evaluation_pauses_do_not_count()
    {
        var progress = new TrainingProgress(Plan, window: TimeSpan.FromSeconds(10));
        progress.Record(Step(1, 98), TimeSpan.FromSeconds(0.0));
        progress.Record(Step(1, 99), TimeSpan.FromSeconds(0.1));
        // Five seconds of evaluation, then the next epoch at the same speed.
        progress.Record(Step(2, 0), TimeSpan.FromSeconds(5.1));
        progress.Record(Step(2, 1), TimeSpan.FromSeconds(5.2));

        Assert.Equal(1280, progress.Snapshot()!.SamplesPerSecond!.Value, 6);
    }

    [Fact]
    public void Should_count_reassigned_shards()
    {
        var progress = new TrainingProgress(Plan);
        progress.Record(Step(1, 0, reassigned: [1]), TimeSpan.Zero);
        progress.Record(Step(1, 1), TimeSpan.FromSeconds(0.1));
        progress.Record(Step(1, 2, reassigned: [0, 1]), TimeSpan.FromSeconds(0.2));

        Assert.Equal(3, progress.Snapshot()!.ReassignedShards);
    }
}
