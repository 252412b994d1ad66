using TorchSharp;
using VaeCluster.Data;
using VaeCluster.Model;
using VaeCluster.Protocol;
using static TorchSharp.torch;

namespace VaeCluster.Worker;

/// <summary>
/// The worker's one job: forward and backward of the model on a shard, returning the summed loss gradient.
/// Reads top to bottom like a PyTorch training step, minus the optimizer, which lives on the coordinator.
/// The worker holds the whole training split, so a shard names its samples by index and the worker looks up
/// their images and labels itself.
/// </summary>
public sealed class ShardGradientComputer(IVae replica, MnistSplit train)
{
    /// <exception cref="Exception">The computation failed (e.g. a loss over non-finite outputs); the replica is left clean for the next shard.</exception>
    public ShardGradient Compute(ComputeShard shard, string workerId)
    {
        try { return ComputeOrThrow(shard, workerId); }
        catch
        {
            // A backward that failed half-way may leave gradients that the dispose scope has just freed.
            replica.zero_grad(set_to_none: true);
            throw;
        }
    }

    private ShardGradient ComputeOrThrow(ComputeShard shard, string workerId)
    {
        using var scope = NewDisposeScope();
        int n = shard.SampleIndices.Length;
        var indices = tensor(shard.SampleIndices.Select(i => (long)i).ToArray());
        var x = train.Images.index_select(0, indices);
        var labels = LabelTensor.At(train.Labels, shard.SampleIndices);
        var eps = tensor(shard.Noise, new long[] { n, replica.Shape.Latent });

        var (loss, gradients) = replica.LossAndGradients(x, labels, eps, shard.Arrival);
        var owned = gradients.Select(g => g.MoveToOuterDisposeScope()).ToList();

        return new ShardGradient(shard.Step, shard.ShardIndex, workerId, new GradientSum(owned), loss, n);
    }
}
