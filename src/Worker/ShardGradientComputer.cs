using TorchSharp;
using VaeCluster.Model;
using VaeCluster.Protocol;
using static TorchSharp.torch;

namespace VaeCluster.Worker;

/// <summary>
/// The worker's one job: forward and backward of the VAE on a shard, returning the summed loss gradient.
/// Reads top to bottom like a PyTorch training step, minus the optimizer, which lives on the coordinator.
/// </summary>
public sealed class ShardGradientComputer(Vae replica, Tensor trainImages)
{
    public ShardGradient Compute(ComputeShard shard, string workerId)
    {
        using var scope = NewDisposeScope();
        int n = shard.SampleIndices.Length;
        var indices = tensor(shard.SampleIndices.Select(i => (long)i).ToArray());
        var x = trainImages.index_select(0, indices);
        var eps = tensor(shard.Noise, new long[] { n, replica.Shape.Latent });

        var (reconstruction, mu, logVar) = replica.forward(x, eps);
        var (loss, bce, kl) = VaeLoss.Compute(reconstruction, x, mu, logVar);
        loss.backward();

        // Hand the gradient tensors to the message and drop our references (PyTorch's zero_grad(set_to_none)),
        // so the next backward allocates fresh ones and the receiver owns these outright.
        var gradients = replica.parameters().Select(p => p.grad!.MoveToOuterDisposeScope()).ToList();
        replica.zero_grad(set_to_none: true);

        return new ShardGradient(shard.Step, shard.ShardIndex, workerId, new GradientSum(gradients),
            loss.item<float>(), bce.item<float>(), kl.item<float>(), n);
    }
}
