using Akka.TestKit.Xunit2;
using VaeCluster.Data;
using VaeCluster.Hosting;
using VaeCluster.Model;
using VaeCluster.Protocol;
using VaeCluster.Training;
using VaeCluster.Worker;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Worker;

/// <summary>A worker node's pool of worker actors, with a TestProbe in the coordinator's place.</summary>
public sealed class WorkerPoolSpecs : TestKit, IDisposable
{
    private const int Latent = 20;
    private readonly IVae master;
    private readonly Tensor images = rand(256, Vae.ImagePixels);
    private readonly MnistSplit train;

    public WorkerPoolSpecs() : base($"{AkkaHost.PinnedDispatcher} {{ type = PinnedDispatcher }}")
    {
        set_num_threads(1);
        manual_seed(11);
        master = ModelFactory.Create(ModelShape.Reference);
        train = new MnistSplit(images, Enumerable.Range(0, 256).Select(i => (byte)(i % 10)).ToArray());
    }

    private (Akka.TestKit.TestProbe Upstream, Akka.Actor.IActorRef Pool) StartPool(int actors, bool belowDataPlane = false)
    {
        var upstream = CreateTestProbe();
        var pool = Sys.ActorOf(WorkerPool.Props("node", actors, upstream.Ref, ModelShape.Reference, train, belowDataPlane));
        var register = upstream.ExpectMsg<RegisterWorker>();
        Assert.Equal(("node", actors), (register.WorkerId, register.Actors));
        upstream.Send(pool, new WorkerAccepted("node", new SharedParameters(master.NamedParameters())));
        return (upstream, pool);
    }

    private static ComputeShard Shard(int index, int start, int count, bool whole = false)
    {
        using var noise = randn(count, Latent);
        return new ComputeShard(Step: 5, index, Enumerable.Range(start, count).ToArray(), noise.data<float>().ToArray(), whole);
    }

    /// <summary>What one replica computes for the shard on its own.</summary>
    private ShardGradient Alone(ComputeShard shard)
    {
        using var replica = ModelFactory.Create(ModelShape.Reference);
        replica.ShareParametersOf(master.NamedParameters());
        return new ShardGradientComputer(replica, train).Compute(shard, "alone");
    }

    [Fact]
    public void Should_compute_below_the_data_plane_in_a_worker_node()
    {
        if (!OperatingSystem.IsLinux()) return;
        int lowBefore = ComputePriorityTests.NiceOfEveryThread().Count(n => n == ComputePriority.Nice);
        var (upstream, pool) = StartPool(actors: 2, belowDataPlane: true);
        upstream.Send(pool, Shard(index: 0, start: 0, count: 20));
        upstream.ExpectMsg<ShardGradient>(TimeSpan.FromSeconds(30)).Gradient.Dispose();

        // Both actors' own threads were lowered; the pool, Akka and the test thread were not.
        Assert.True(ComputePriorityTests.NiceOfEveryThread().Count(n => n == ComputePriority.Nice) >= lowBefore + 2);
        Assert.NotEqual(ComputePriority.Nice, ComputePriority.OfThisThread());
    }

    [Fact]
    public void Should_cut_a_shard_across_its_actors_and_answer_one_gradient_of_the_whole_shard()
    {
        var (upstream, pool) = StartPool(actors: 3);
        var shard = Shard(index: 2, start: 10, count: 50);
        upstream.Send(pool, shard);
        var answer = upstream.ExpectMsg<ShardGradient>(TimeSpan.FromSeconds(30));
        upstream.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // one answer for the node, not one per actor
        using var alone = Alone(shard).Gradient;
        using var pooled = answer.Gradient;
        Assert.Equal((5L, 2, "node", 50), (answer.Step, answer.ShardIndex, answer.WorkerId, answer.SampleCount));
        for (int i = 0; i < alone.Tensors.Count; i++)
        {
            double error = (pooled.Tensors[i] - alone.Tensors[i]).norm().item<float>() / alone.Tensors[i].norm().item<float>();
            Assert.True(error < 1e-5, $"tensor {i}: relative error {error:E2}");
        }
    }

    [Fact]
    public void Should_compute_whole_shards_uncut_each_on_one_actor_and_answer_each_bit_for_bit()
    {
        var (upstream, pool) = StartPool(actors: 2);
        var shards = new[] { Shard(0, 0, 16, whole: true), Shard(1, 16, 16, whole: true) };
        foreach (var s in shards) upstream.Send(pool, s);
        var answers = new[] { upstream.ExpectMsg<ShardGradient>(TimeSpan.FromSeconds(30)), upstream.ExpectMsg<ShardGradient>(TimeSpan.FromSeconds(30)) }
            .OrderBy(a => a.ShardIndex).ToList();
        Assert.Equal([0, 1], answers.Select(a => a.ShardIndex));
        foreach (var (answer, shard) in answers.Zip(shards))
        {
            using var alone = Alone(shard).Gradient;
            using var pooled = answer.Gradient;
            Assert.Equal(ParameterDigest.Sha256(alone.Tensors), ParameterDigest.Sha256(pooled.Tensors));
        }
    }

    [Fact]
    public void Should_answer_a_shard_that_an_actor_could_not_compute_with_one_failure()
    {
        var (upstream, pool) = StartPool(actors: 2);
        var broken = Shard(index: 1, start: 0, count: 8) with { SampleIndices = [0, 1, 2, 3, 4, 5, 6, 10_000] }; // past the training set
        upstream.Send(pool, broken);
        var failed = upstream.ExpectMsg<ShardFailed>(TimeSpan.FromSeconds(30));
        Assert.Equal((5L, 1, "node"), (failed.Step, failed.ShardIndex, failed.WorkerId));
        upstream.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        var healthy = Shard(index: 0, start: 0, count: 8); // the pool is ready for the next one
        upstream.Send(pool, healthy);
        upstream.ExpectMsg<ShardGradient>(TimeSpan.FromSeconds(30)).Gradient.Dispose();
    }

    public new void Dispose()
    {
        master.Dispose();
        images.Dispose();
        base.Dispose();
    }
}
