using VaeCluster.Coordinator.Training;
using VaeCluster.Model;
using VaeCluster.Training;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Training;

public sealed class RunRandomnessTests
{
    [Fact]
    public void Should_visit_every_sample_once_per_epoch_and_keep_the_partial_last_batch()
    {
        using var stream = new RunRandomness(new Generator(3));
        var order = stream.DrawPermutation(300);
        Assert.Equal(Enumerable.Range(0, 300), order.OrderBy(i => i));
        Assert.Equal(3, EpochOrder.StepsPerEpoch(300, 128));
        Assert.Equal(44, EpochOrder.GlobalBatch(order, 2, 128).Count);
        Assert.NotEqual(order, stream.DrawPermutation(300));
    }

    /// <summary>
    /// The stream is PyTorch's: after <c>torch.manual_seed(1)</c> and the reference model's five layers,
    /// <c>pytorch_vae.py</c> draws this first epoch order and this first noise. Regenerate the figures with
    /// <c>python3 -c "import torch; from pytorch_vae import VAE; torch.manual_seed(1); VAE();
    /// print(torch.randperm(60000)[:5], torch.randn(128, 20)[0, :3])"</c> in <c>../shared/peers</c>.
    /// </summary>
    [Fact]
    public void Should_draw_what_the_pytorch_reference_draws_from_the_same_seed()
    {
        var (model, generator) = ModelFactory.CreateSeeded(new ModelShape(Hidden: 400, Latent: 20), seed: 1);
        using var _ = model;
        using var stream = new RunRandomness(generator);

        Assert.Equal(0.018402258f, model.NamedParameters()[0].Tensor[0, 0].item<float>());
        Assert.Equal(PeerOrder, stream.DrawPermutation(60000).Take(5));
        using var noise = stream.DrawNoise(128, 20);
        Assert.Equal(PeerNoise, noise[0].data<float>().ToArray().Take(3));
    }

    private static readonly int[] PeerOrder = [22295, 55698, 57958, 44118, 45368];
    private static readonly float[] PeerNoise = [-1.6896611452102661f, -0.30207017064094543f, 1.2573463916778564f];

    [Fact]
    public void Should_continue_a_captured_stream_exactly_including_the_epoch_order()
    {
        using var original = new RunRandomness(new Generator(7));
        var order = original.DrawPermutation(1000);
        original.DrawNoise(128, 20).Dispose();
        var saved = original.Capture();
        using var expectedNoise = original.DrawNoise(128, 20);
        var expectedNextOrder = original.DrawPermutation(1000);

        using var resumed = new RunRandomness(new Generator(99));
        Assert.Equal(order, resumed.Restore(saved, 1000));
        using var noise = resumed.DrawNoise(128, 20);
        Assert.Equal(expectedNoise.data<float>().ToArray(), noise.data<float>().ToArray());
        Assert.Equal(expectedNextOrder, resumed.DrawPermutation(1000));
    }
}
