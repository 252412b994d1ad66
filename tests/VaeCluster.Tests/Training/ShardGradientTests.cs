using VaeCluster.Coordinator.Training;
using VaeCluster.Data;
using VaeCluster.Model;
using VaeCluster.Protocol;
using VaeCluster.Training;
using VaeCluster.Worker;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Training;

public sealed class ShardGradientTests
{
    private const int Batch = 128;

    [Theory]
    [InlineData(1, ModelKind.Vae)]
    [InlineData(2, ModelKind.Vae)]
    [InlineData(3, ModelKind.Vae)]
    [InlineData(4, ModelKind.Vae)]
    [InlineData(1, ModelKind.Mixture)]
    [InlineData(3, ModelKind.Mixture)]
    [InlineData(4, ModelKind.Mixture)]
    public void Should_combine_shard_gradients_into_the_full_batch_gradient(int workers, ModelKind kind)
    {
        set_num_threads(1);
        manual_seed(7);
        var shape = ModelShape.Reference with { Kind = kind };
        using var master = ModelFactory.Create(shape);
        var parameters = master.NamedParameters();
        using var images = rand(512, Vae.ImagePixels);
        var labels = Enumerable.Range(0, 512).Select(i => (byte)(i * 7 % 10)).ToArray();
        var train = new MnistSplit(images, labels);
        var batch = BatchOf(step: 3);

        using var full = ComputeOn(shape, parameters, train, ShardPlanner.Cut(batch, 1)).Single().Gradient;
        var shards = ComputeOn(shape, parameters, train, ShardPlanner.Cut(batch, workers));
        Assert.Equal(workers, shards.Count);
        Assert.Equal(Batch, shards.Sum(s => s.SampleCount));
        var (combined, finite) = GradientCombiner.SumInShardOrder(shards);
        Assert.True(finite);

        for (int i = 0; i < parameters.Count; i++)
        {
            double error = (combined[i] - full.Tensors[i]).norm().item<float>() / full.Tensors[i].norm().item<float>();
            Assert.True(error < 1e-5, $"{parameters[i].Name}: relative error {error:E2} with {workers} workers");
        }
        foreach (var s in shards) s.Gradient.Dispose();
    }

    [Fact]
    public void Should_check_a_lone_shard_for_non_finite_values_unless_its_summer_already_did()
    {
        ShardGradient Lone(float value, bool knownFinite) =>
            new(0, 0, "w", new GradientSum([full(new long[] { 3, 4 }, value)], knownFinite), 1.0, 1);
        var nan = Lone(float.NaN, knownFinite: false);
        Assert.False(GradientCombiner.SumInShardOrder([nan]).Finite); // read and found out
        var finite = Lone(1f, knownFinite: false);
        Assert.True(GradientCombiner.SumInShardOrder([finite]).Finite);
        // A pool's sum says it checked its values in the summing pass; they are not read a second time.
        var vouched = Lone(float.NaN, knownFinite: true);
        Assert.True(GradientCombiner.SumInShardOrder([vouched]).Finite);
        // Several shards are always summed, and checked in that pass.
        var two = GradientCombiner.SumInShardOrder([Lone(1f, knownFinite: true), Lone(float.PositiveInfinity, knownFinite: true)]);
        Assert.False(two.Finite);
        foreach (var g in new[] { nan, finite, vouched }) g.Gradient.Dispose();
    }

    [Fact]
    public void Should_cut_a_batch_into_contiguous_shards_differing_by_at_most_one()
    {
        var shards = ShardPlanner.Cut(BatchOf(step: 0), 3);
        Assert.Equal([43, 43, 42], shards.Select(s => s.SampleIndices.Length));
        Assert.Equal(BatchOf(0).SampleIndices, shards.SelectMany(s => s.SampleIndices));
        Assert.Equal(BatchOf(0).Noise, shards.SelectMany(s => s.Noise));
        Assert.All(shards, s => Assert.Equal(s.SampleIndices.Length * 20, s.Noise.Length));
    }

    [Fact]
    public void Should_cut_a_batch_in_proportion_to_weights_each_shard_getting_at_least_one_sample()
    {
        var batch = BatchOf(step: 0);
        Assert.Equal([32, 96], ShardPlanner.Cut(batch, [1, 3]).Select(s => s.SampleIndices.Length));
        Assert.Equal([43, 43, 42], ShardPlanner.Cut(batch, [2, 2, 2]).Select(s => s.SampleIndices.Length)); // the equal cut
        Assert.Equal([1, 127], ShardPlanner.Cut(batch, [1, 1000]).Select(s => s.SampleIndices.Length));
        var cut = ShardPlanner.Cut(batch, [5, 1, 16]);
        Assert.Equal(batch.SampleIndices, cut.SelectMany(s => s.SampleIndices));
        Assert.Equal(batch.Noise, cut.SelectMany(s => s.Noise));
        Assert.Equal([0, 1, 2], cut.Select(s => s.ShardIndex));
    }

    private static GlobalBatch BatchOf(long step)
    {
        using var stream = new RunRandomness(new Generator((ulong)(5 + step)));
        var samples = stream.DrawPermutation(512).Take(Batch).ToArray();
        using var noise = stream.DrawNoise(Batch, latent: 20);
        return new GlobalBatch(step, samples, noise.data<float>().ToArray(), Latent: 20);
    }

    /// <summary>Each shard on its own replica that shares the master's parameters, as single-process workers do.</summary>
    private static List<ShardGradient> ComputeOn(
        ModelShape shape, IReadOnlyList<(string Name, Tensor Tensor)> parameters, MnistSplit train, IReadOnlyList<ComputeShard> shards) =>
        shards.Select((shard, i) =>
        {
            using var replica = ModelFactory.Create(shape);
            replica.ShareParametersOf(parameters);
            return new ShardGradientComputer(replica, train).Compute(shard, $"w{i}");
        }).ToList();
}
