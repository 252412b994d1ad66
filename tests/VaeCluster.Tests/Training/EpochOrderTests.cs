using VaeCluster.Training;
using Xunit;

namespace VaeCluster.Tests.Training;

public sealed class EpochOrderTests
{
    [Fact]
    public void Should_visit_every_sample_once_per_epoch()
    {
        var order = EpochOrder.Permutation(seed: 1, epoch: 2, count: 1000);
        Assert.Equal(Enumerable.Range(0, 1000), order.OrderBy(i => i));
    }

    [Fact]
    public void Should_repeat_the_same_order_for_the_same_seed_and_epoch_only()
    {
        Assert.Equal(EpochOrder.Permutation(1, 3, 500), EpochOrder.Permutation(1, 3, 500));
        Assert.NotEqual(EpochOrder.Permutation(1, 3, 500), EpochOrder.Permutation(1, 4, 500));
        Assert.NotEqual(EpochOrder.Permutation(1, 3, 500), EpochOrder.Permutation(2, 3, 500));
    }

    [Fact]
    public void Should_keep_the_partial_last_batch()
    {
        var order = EpochOrder.Permutation(1, 1, 300);
        Assert.Equal(3, EpochOrder.StepsPerEpoch(300, 128));
        Assert.Equal(44, EpochOrder.GlobalBatch(order, 2, 128).Count);
    }
}
