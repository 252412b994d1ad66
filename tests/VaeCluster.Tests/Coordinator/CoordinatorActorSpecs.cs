using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Serilog;
using VaeCluster.Coordinator;
using VaeCluster.Coordinator.Run;
using VaeCluster.Coordinator.Training;
using VaeCluster.Protocol;
using VaeCluster.Tests.DataPlane;
using VaeCluster.Training;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Coordinator;

/// <summary>The coordinator's step protocol, with TestProbes standing in for workers.</summary>
public sealed class CoordinatorActorSpecs : TestKit, IDisposable
{
    private readonly string runDir = Directory.CreateTempSubdirectory("vae-coord-").FullName;
    private readonly Tensor testImages = rand(100, 784);
    private readonly TestProbe applied;
    private TrainingState? state;

    public CoordinatorActorSpecs()
    {
        applied = CreateTestProbe();
        Sys.EventStream.Subscribe(applied.Ref, typeof(StepApplied));
        Sys.EventStream.Subscribe(applied.Ref, typeof(TrainingFinished));
    }

    private IActorRef StartCoordinator(int workers, TimeSpan stepTimeout, int trainCount = 256, int epochs = 1, bool deterministic = false,
        ILogger? log = null, int minWorkers = 1)
    {
        var options = new TrainingOptions
        {
            Workers = workers, MinWorkers = minWorkers, BatchSize = 64, Epochs = epochs, StepTimeout = stepTimeout, CheckpointEvery = 1000, Deterministic = deterministic,
        };
        state = TrainingState.Fresh(options, trainCount);
        var run = new RunDirectory(runDir);
        run.Create();
        var recorder = new RunRecorder(run, new VaeCluster.Data.MnistSplit(testImages, new byte[100]), keepCheckpoints: 2, Serilog.Core.Logger.None);
        return Sys.ActorOf(CoordinatorActor.Props(state, recorder, log ?? Serilog.Core.Logger.None));
    }

    private (TestProbe Probe, string Id) Register(IActorRef coordinator, string id, int actors = 1)
    {
        var probe = CreateTestProbe();
        probe.Send(coordinator, new RegisterWorker(id, actors));
        var accepted = probe.ExpectMsg<WorkerAccepted>();
        Assert.Equal(10, accepted.Parameters.Tensors.Count);
        return (probe, id);
    }

    /// <summary>A worker's answer with a zero gradient of the right shapes.</summary>
    private ShardGradient Answer(ComputeShard shard, string workerId) =>
        new(shard.Step, shard.ShardIndex, workerId,
            new GradientSum(state!.Parameters.Select(p => zeros_like(p.Tensor)).ToList()),
            LossSum: 550.0 * shard.SampleIndices.Length, SampleCount: shard.SampleIndices.Length);

    [Fact]
    public void Should_start_training_only_when_the_expected_workers_have_registered()
    {
        var coordinator = StartCoordinator(workers: 2, TimeSpan.FromSeconds(10));
        var (first, _) = Register(coordinator, "w1");
        first.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        var (second, _) = Register(coordinator, "w2");
        var a = first.ExpectMsg<ComputeShard>();
        var b = second.ExpectMsg<ComputeShard>();
        Assert.Equal(0, a.Step);
        Assert.Equal(new[] { 0, 1 }, new[] { a.ShardIndex, b.ShardIndex }.OrderBy(i => i));
        Assert.Equal(64, a.SampleIndices.Length + b.SampleIndices.Length);
    }

    [Fact]
    public void Should_count_a_node_lost_before_the_start_as_come_and_train_with_those_present_when_min_workers_allows()
    {
        var log = new CapturedLog();
        var coordinator = StartCoordinator(workers: 2, TimeSpan.FromSeconds(10), log: log.Logger);
        var (lost, _) = Register(coordinator, "lost");
        Watch(coordinator);
        Sys.Stop(lost.Ref); // the coordinator watches it: its end must be handled, not kill the coordinator
        AwaitAssert(() => Assert.Contains(log.Warnings, w => w.StartsWith("Worker node \"lost\" left")));
        var (second, _) = Register(coordinator, "second"); // 2 have come, 1 is present, --min-workers is 1
        var shard = second.ExpectMsg<ComputeShard>();
        Assert.Equal((0, 64), (shard.Step, shard.SampleIndices.Length));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // no Terminated: the coordinator is alive
    }

    [Fact]
    public void Should_wait_for_min_workers_present_when_a_node_was_lost_before_the_start()
    {
        var log = new CapturedLog();
        var fresh = StartCoordinator(workers: 2, TimeSpan.FromSeconds(10), minWorkers: 2, log: log.Logger);
        var (gone, _) = Register(fresh, "gone");
        Sys.Stop(gone.Ref);
        AwaitAssert(() => Assert.Contains(log.Warnings, w => w.StartsWith("Worker node \"gone\" left")));
        var (b, _) = Register(fresh, "b");
        b.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // 2 have come, but 1 present of --min-workers 2
        var (c, _) = Register(fresh, "c");
        Assert.Equal(0, b.ExpectMsg<ComputeShard>().Step);
        Assert.Equal(0, c.ExpectMsg<ComputeShard>().Step);
    }

    [Fact]
    public void Should_count_worker_actors_not_nodes_and_cut_each_batch_in_proportion_to_them()
    {
        var coordinator = StartCoordinator(workers: 4, TimeSpan.FromSeconds(10));
        var (small, smallId) = Register(coordinator, "small", actors: 1);
        small.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // 1 of 4 worker actors
        var (large, largeId) = Register(coordinator, "large", actors: 3);
        var a = small.ExpectMsg<ComputeShard>();
        var b = large.ExpectMsg<ComputeShard>();
        Assert.Equal((16, 48), (a.SampleIndices.Length, b.SampleIndices.Length));
        Assert.False(a.Whole || b.Whole); // a node cuts its shard across its actors itself
        large.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // one shard per node at a time
        small.Send(coordinator, Answer(a, smallId));
        large.Send(coordinator, Answer(b, largeId));
        var step = applied.ExpectMsg<StepApplied>();
        Assert.Equal(["large", "small"], step.Workers.Order());
    }

    [Fact]
    public void Should_give_a_node_as_many_whole_shards_at_once_as_it_has_actors_in_a_deterministic_run()
    {
        var coordinator = StartCoordinator(workers: 3, TimeSpan.FromSeconds(10), deterministic: true);
        var (pair, pairId) = Register(coordinator, "pair", actors: 2);
        var (single, singleId) = Register(coordinator, "single", actors: 1);
        var held = new[] { pair.ExpectMsg<ComputeShard>(), pair.ExpectMsg<ComputeShard>() };
        var one = single.ExpectMsg<ComputeShard>();
        Assert.All(held.Append(one), s => Assert.True(s.Whole));
        Assert.All(held.Append(one), s => Assert.Equal(64 / TrainingOptions.DeterministicShards, s.SampleIndices.Length));
        pair.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // both its slots are taken; the fourth shard waits
        pair.Send(coordinator, Answer(held[0], pairId));
        var fourth = pair.ExpectMsg<ComputeShard>();
        Assert.Equal(new[] { 0, 1, 2, 3 }, held.Append(one).Append(fourth).Select(s => s.ShardIndex).Order());
        foreach (var s in new[] { held[1], fourth }) pair.Send(coordinator, Answer(s, pairId));
        single.Send(coordinator, Answer(one, singleId));
        Assert.Equal(64, applied.ExpectMsg<StepApplied>().SampleCount);
    }

    [Fact]
    public void Should_apply_a_step_once_every_shard_has_answered()
    {
        var coordinator = StartCoordinator(workers: 2, TimeSpan.FromSeconds(10));
        var (w1, id1) = Register(coordinator, "w1");
        var (w2, id2) = Register(coordinator, "w2");
        var s1 = w1.ExpectMsg<ComputeShard>();
        var s2 = w2.ExpectMsg<ComputeShard>();
        w1.Reply(Answer(s1, id1));
        applied.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        w2.Reply(Answer(s2, id2));
        var step = applied.ExpectMsg<StepApplied>();
        Assert.Equal(0, step.GlobalStep);
        Assert.Equal(64, step.SampleCount);
        Assert.Equal(550.0 * 64, step.LossSum, 6);
        Assert.Equal(1, w1.ExpectMsg<ComputeShard>().Step);
    }

    [Fact]
    public void Should_reassign_shard_when_worker_times_out_and_ignore_its_late_answer()
    {
        var coordinator = StartCoordinator(workers: 2, TimeSpan.FromMilliseconds(400));
        var (fast, fastId) = Register(coordinator, "fast");
        var (slow, slowId) = Register(coordinator, "slow");
        var own = fast.ExpectMsg<ComputeShard>();
        var stuck = slow.ExpectMsg<ComputeShard>();
        fast.Reply(Answer(own, fastId));

        var reassigned = fast.ExpectMsg<ComputeShard>(TimeSpan.FromSeconds(5));
        Assert.Equal((stuck.Step, stuck.ShardIndex), (reassigned.Step, reassigned.ShardIndex));
        Assert.Equal(stuck.SampleIndices, reassigned.SampleIndices);
        fast.Reply(Answer(reassigned, fastId));

        var step = applied.ExpectMsg<StepApplied>();
        Assert.Equal(0, step.GlobalStep);
        Assert.Equal([stuck.ShardIndex], step.ReassignedShards);
        Assert.Equal(["fast", "fast"], step.Workers);

        // The slow worker finally answers the step that was already applied: nothing is applied again.
        slow.Send(coordinator, Answer(stuck, slowId));
        var next = fast.ExpectMsg<ComputeShard>();
        Assert.Equal(1, next.Step);
        applied.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void Should_skip_a_step_whose_loss_is_not_finite_leaving_parameters_and_optimizer_untouched()
    {
        var coordinator = StartCoordinator(workers: 1, TimeSpan.FromSeconds(10), trainCount: 192);
        var (w, id) = Register(coordinator, "w");
        string before = ParameterDigest.Sha256(state!.Parameters.Select(p => p.Tensor));
        var shard = w.ExpectMsg<ComputeShard>();
        var poisoned = Answer(shard, id) with { LossSum = double.NaN };
        foreach (var g in poisoned.Gradient.Tensors) g.fill_(1f);
        w.Reply(poisoned);
        Assert.Equal(0, applied.ExpectMsg<StepApplied>().GlobalStep);
        Assert.Equal(before, ParameterDigest.Sha256(state.Parameters.Select(p => p.Tensor)));
        Assert.Equal(0, state.Optimizer.Step);

        var next = w.ExpectMsg<ComputeShard>();
        var healthy = Answer(next, id);
        foreach (var g in healthy.Gradient.Tensors) g.fill_(1f);
        w.Reply(healthy);
        Assert.Equal(1, applied.ExpectMsg<StepApplied>().GlobalStep);
        Assert.NotEqual(before, ParameterDigest.Sha256(state.Parameters.Select(p => p.Tensor)));
        var ledger = StepLedger.Read(new RunDirectory(runDir).Ledger);
        Assert.Equal([true, false], ledger.Select(e => e.Skipped));
    }

    [Fact]
    public void Should_write_each_nodes_shards_bytes_and_times_into_the_epochs_metrics()
    {
        var coordinator = StartCoordinator(workers: 3, TimeSpan.FromSeconds(10), trainCount: 128); // 2 steps
        var probe = CreateTestProbe();
        probe.Send(coordinator, new RegisterWorker("pair", 2, "machine-a"));
        probe.ExpectMsg<WorkerAccepted>();
        var (single, singleId) = Register(coordinator, "single");
        for (int step = 0; step < 2; step++)
        {
            var mine = probe.ExpectMsg<ComputeShard>();
            var theirs = single.ExpectMsg<ComputeShard>();
            probe.Reply(Answer(mine, "pair") with { Cost = new ShardCost(ComputeMicros: 1, BytesToNode: 1000, BytesFromNode: 900) });
            single.Reply(Answer(theirs, singleId));
            applied.ExpectMsg<StepApplied>();
        }
        Assert.True(applied.ExpectMsg<TrainingFinished>(TimeSpan.FromSeconds(30)).Succeeded);

        var nodes = new MetricsLog(new RunDirectory(runDir).Metrics).Read().Single().Nodes!;
        var pair = nodes.Single(n => n.Node == "pair");
        Assert.Equal(("machine-a", 2, 2L, 2000L, 1800L), (pair.Host, pair.Workers, pair.Shards, pair.BytesSent, pair.BytesReceived));
        Assert.Equal((1, 2L), (nodes.Single(n => n.Node == "single").Workers, nodes.Single(n => n.Node == "single").Shards));
        Assert.All(nodes, n => Assert.True(n.ComputeMs >= 0 && n.TransferMs >= 0 && n.WaitMs >= 0));
    }

    [Fact]
    public void Should_never_apply_a_step_twice_when_answers_are_duplicated()
    {
        var coordinator = StartCoordinator(workers: 1, TimeSpan.FromSeconds(10), trainCount: 192);
        var (w, id) = Register(coordinator, "w");
        var seen = new List<long>();
        for (int i = 0; i < 3; i++)
        {
            var shard = w.ExpectMsg<ComputeShard>();
            w.Reply(Answer(shard, id));
            w.Reply(Answer(shard, id)); // a duplicate, e.g. a retry that raced the first answer
            seen.Add(applied.ExpectMsg<StepApplied>().GlobalStep);
        }
        Assert.Equal([0L, 1L, 2L], seen);
        var finished = applied.ExpectMsg<TrainingFinished>(TimeSpan.FromSeconds(30));
        Assert.True(finished.Succeeded, finished.Error);
        Assert.Equal(3, state!.Cursor.GlobalStep);
    }

    [Fact]
    public void Should_give_a_departed_workers_shard_to_the_remaining_worker()
    {
        var coordinator = StartCoordinator(workers: 2, TimeSpan.FromSeconds(30));
        var (stay, stayId) = Register(coordinator, "stay");
        var (leave, _) = Register(coordinator, "leave");
        var own = stay.ExpectMsg<ComputeShard>();
        var orphan = leave.ExpectMsg<ComputeShard>();
        Sys.Stop(leave.Ref);
        stay.Reply(Answer(own, stayId));
        var taken = stay.ExpectMsg<ComputeShard>(TimeSpan.FromSeconds(5));
        Assert.Equal(orphan.ShardIndex, taken.ShardIndex);
        stay.Reply(Answer(taken, stayId));
        Assert.Equal(0, applied.ExpectMsg<StepApplied>().GlobalStep);
    }

    [Fact]
    public void Should_give_a_worker_that_joins_mid_run_a_shard_from_the_next_step_and_record_it_in_the_ledger()
    {
        var coordinator = StartCoordinator(workers: 2, TimeSpan.FromSeconds(30));
        var (w1, id1) = Register(coordinator, "w1");
        var (w2, id2) = Register(coordinator, "w2");
        var s1 = w1.ExpectMsg<ComputeShard>();
        var s2 = w2.ExpectMsg<ComputeShard>();
        var (late, lateId) = Register(coordinator, "late");
        late.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // step 0 is already cut in two
        w1.Reply(Answer(s1, id1));
        w2.Reply(Answer(s2, id2));
        Assert.Equal(0, applied.ExpectMsg<StepApplied>().GlobalStep);

        var next = new[] { (w1, id1), (w2, id2), (late, lateId) }.Select(w => (w.Item1, w.Item2, Shard: w.Item1.ExpectMsg<ComputeShard>())).ToList();
        Assert.All(next, n => Assert.Equal(1, n.Shard.Step));
        Assert.Equal(64, next.Sum(n => n.Shard.SampleIndices.Length));
        foreach (var (probe, id, shard) in next) probe.Reply(Answer(shard, id));
        Assert.Equal(1, applied.ExpectMsg<StepApplied>().GlobalStep);

        var ledger = StepLedger.Read(new RunDirectory(runDir).Ledger);
        Assert.Equal(new long[] { 0, 1 }, ledger.Select(e => e.GlobalStep));
        Assert.Equal(new[] { "late", "w1", "w2" }, ledger[1].Workers.Order());
        Assert.All(ledger, e => Assert.Equal(64, e.Samples));
    }

    [Fact]
    public void Should_skip_a_step_whose_shard_a_worker_could_not_compute_and_record_why()
    {
        var coordinator = StartCoordinator(workers: 2, TimeSpan.FromSeconds(30), trainCount: 192);
        var (w1, id1) = Register(coordinator, "w1");
        var (w2, id2) = Register(coordinator, "w2");
        string before = ParameterDigest.Sha256(state!.Parameters.Select(p => p.Tensor));
        var s1 = w1.ExpectMsg<ComputeShard>();
        var s2 = w2.ExpectMsg<ComputeShard>();
        w1.Reply(Answer(s1, id1));
        w2.Reply(new ShardFailed(s2.Step, s2.ShardIndex, id2, "all elements of input should be between 0 and 1"));

        Assert.Equal(0, applied.ExpectMsg<StepApplied>().GlobalStep);
        Assert.Equal(before, ParameterDigest.Sha256(state.Parameters.Select(p => p.Tensor)));
        Assert.Equal(0, state.Optimizer.Step);
        // Both workers are free again and get the next step; nobody is sent step 0's shard again.
        Assert.Equal(1, w1.ExpectMsg<ComputeShard>().Step);
        Assert.Equal(1, w2.ExpectMsg<ComputeShard>().Step);
        var skipped = Assert.Single(StepLedger.Read(new RunDirectory(runDir).Ledger));
        Assert.True(skipped.Skipped);
        Assert.Equal(64, skipped.Samples);
        Assert.Contains("w2 could not compute shard", skipped.SkipReason);
        Assert.Contains("between 0 and 1", skipped.SkipReason);
    }

    [Fact]
    public void Should_stop_as_diverged_after_twenty_steps_in_a_row_could_not_be_applied()
    {
        var coordinator = StartCoordinator(workers: 1, TimeSpan.FromSeconds(30), trainCount: 64 * 30);
        var (w, id) = Register(coordinator, "w");
        var first = w.ExpectMsg<ComputeShard>();
        w.Reply(Answer(first, id)); // step 0 is applied: the streak starts at step 1
        Assert.Equal(0, applied.ExpectMsg<StepApplied>().GlobalStep);
        for (int i = 0; i < CoordinatorActor.DivergedAfterSkips; i++)
        {
            var shard = w.ExpectMsg<ComputeShard>();
            w.Reply(new ShardFailed(shard.Step, shard.ShardIndex, id, "all elements of input should be between 0 and 1"));
            applied.ExpectMsg<StepApplied>();
        }
        var finished = applied.ExpectMsg<TrainingFinished>();
        Assert.False(finished.Succeeded);
        Assert.Equal("loss diverged at step 1; try a lower --lr", finished.Error);
        w.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // no step after the stop
        var ledger = StepLedger.Read(new RunDirectory(runDir).Ledger);
        Assert.Equal(1 + CoordinatorActor.DivergedAfterSkips, ledger.Count);
        Assert.All(ledger.Skip(1), e => Assert.True(e.Skipped));
    }

    [Fact]
    public void Should_finish_the_step_in_flight_and_checkpoint_when_asked_to_stop()
    {
        var coordinator = StartCoordinator(workers: 1, TimeSpan.FromSeconds(30), trainCount: 192);
        var (w, id) = Register(coordinator, "w");
        var shard = w.ExpectMsg<ComputeShard>();
        var asker = CreateTestProbe();
        asker.Send(coordinator, CoordinatorActor.StopAtStepBoundary.Instance);
        asker.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // step 0 is still out
        w.Reply(Answer(shard, id));
        asker.ExpectMsg<Akka.Done>();
        Assert.Equal(0, applied.ExpectMsg<StepApplied>().GlobalStep);
        w.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        Assert.Equal(["step-00000001.ckpt"], Directory.GetFiles(new RunDirectory(runDir).Checkpoints).Select(Path.GetFileName));
    }

    public new void Dispose()
    {
        base.Dispose();
        state?.Dispose();
        testImages.Dispose();
        Directory.Delete(runDir, recursive: true);
    }
}
