using VaeCluster.Model;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Model;

/// <summary>The reference VAE's hand-written backward (Vae.LossAndGradients) against autograd on the same shard.</summary>
public sealed class HandWrittenGradientTests
{
    [Fact]
    public void Should_give_autograds_gradients_bit_for_bit_and_its_loss_in_fp32()
    {
        using var scope = NewDisposeScope();
        using var model = Seeded(ModelShape.Reference);
        var (x, eps) = Shard();

        var (autoLoss, autoGrads) = Autograd(model, x, eps);
        var (loss, grads) = model.LossAndGradients(x, x, eps);

        Assert.True(Math.Abs(loss - autoLoss) / autoLoss < 1e-6, $"loss: hand-written {loss}, autograd {autoLoss}");
        foreach (var (a, g) in autoGrads.Zip(grads))
            Assert.True(a.eq(g).all().item<bool>(), $"gradient [{string.Join(",", a.shape)}] differs: largest difference {(a - g).abs().max().item<float>():E2}");
        Assert.All(model.NamedParameters(), p => Assert.Null(p.Tensor.grad)); // the model keeps no gradient
    }

    [Fact]
    public void Should_follow_autocasts_bf16_products_when_the_shape_asks_for_bf16()
    {
        using var scope = NewDisposeScope();
        using var fp32 = Seeded(ModelShape.Reference);
        using var bf16 = new Vae(ModelShape.Reference with { Precision = Precision.Bf16 });
        bf16.ShareParametersOf(fp32.NamedParameters());
        var (x, eps) = Shard();

        var (autoLoss, autoGrads) = Autograd(bf16, x, eps);
        var (loss, grads) = bf16.LossAndGradients(x, x, eps);
        var (fp32Loss, _) = fp32.LossAndGradients(x, x, eps);

        Assert.NotEqual(fp32Loss, loss); // the bf16 products are really taken
        Assert.True(Math.Abs(loss - autoLoss) / autoLoss < 1e-5, $"loss: hand-written {loss}, autograd {autoLoss}");
        AssertClose(autoGrads, grads, 2e-2);
    }

    [Fact]
    public void Should_give_every_parameters_gradient_by_autograd_for_a_model_without_a_hand_written_one()
    {
        using var scope = NewDisposeScope();
        using var model = ModelFactory.Create(ModelShape.Reference with { Kind = ModelKind.Mixture });
        var (x, eps) = Shard();
        using var labels = arange(64L, dtype: ScalarType.Int64).remainder(10);

        var (loss, grads) = model.LossAndGradients(x, labels, eps);

        Assert.True(float.IsFinite(loss) && loss > 0);
        Assert.Equal(model.NamedParameters().Select(p => p.Tensor.shape), grads.Select(g => g.shape));
        Assert.Contains(grads, g => g.abs().sum().item<float>() > 0);
        Assert.All(model.NamedParameters(), p => Assert.Null(p.Tensor.grad));
    }

    private static Vae Seeded(ModelShape shape)
    {
        manual_seed(11);
        return new Vae(shape);
    }

    /// <summary>A worker's shard: 64 MNIST-like images (mostly black, some pixels lit) and their noise.</summary>
    private static (Tensor X, Tensor Eps) Shard()
    {
        using var generator = new Generator(7);
        var lit = rand(new long[] { 64, Vae.ImagePixels }, generator: generator) > 0.8;
        var x = rand(new long[] { 64, Vae.ImagePixels }, generator: generator).mul_(lit);
        return (x, randn(new long[] { 64, 20 }, generator: generator));
    }

    private static (float Loss, List<Tensor> Gradients) Autograd(Vae model, Tensor x, Tensor eps)
    {
        var loss = model.Loss(x, x, eps).Total;
        loss.backward();
        var gradients = model.NamedParameters().Select(p => p.Tensor.grad!.clone()).ToList();
        model.zero_grad();
        return (loss.item<float>(), gradients);
    }

    private static void AssertClose(IReadOnlyList<Tensor> expected, IReadOnlyList<Tensor> actual, double relative)
    {
        Assert.Equal(expected.Count, actual.Count);
        foreach (var (e, a) in expected.Zip(actual))
        {
            Assert.Equal(e.shape, a.shape);
            double error = ((a - e).norm() / e.norm()).item<float>();
            Assert.True(error < relative, $"gradient [{string.Join(",", e.shape)}]: relative error {error:E2}");
        }
    }
}
