using static TorchSharp.torch;

namespace VaeCluster.Model;

/// <summary>
/// The reference VAE's training gradient written out by hand: the derivatives autograd takes, in the same float
/// operations and the same order, so the gradients are bit for bit autograd's in fp32 (a test holds them to that, and
/// --deterministic digests do not move), with no graph to build. On one core and a 64-image shard this takes about
/// two thirds of autograd's time (docs/BENCHMARKS.md, issue 17): at this model's size the graph, its bookkeeping and
/// the generic backward's extra passes cost a third of the step.
/// </summary>
public sealed partial class Vae
{
    /// <summary>
    /// Forward, loss and backward of one shard. Returns the summed loss (BCE + KL) and the gradient of every
    /// parameter in <see cref="NamedParameters"/> order, fresh tensors in the caller's dispose scope.
    /// </summary>
    public (float Loss, IReadOnlyList<Tensor> Gradients) LossAndGradients(Tensor x, Tensor labels, Tensor eps)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();

        // Forward (as forward() computes it), keeping what the backward needs.
        var h1 = nn.functional.relu(Product(fc1, x, Wide: true));
        var mu = Product(fc21, h1, Wide: false);
        var logVar = Product(fc22, h1, Wide: false);
        var std = (0.5 * logVar).exp_();
        var z = mu + eps * std;
        var h3 = nn.functional.relu(Product(fc3, z, Wide: false));
        var r = nn.functional.sigmoid(Product(fc4, h3, Wide: true));
        var loss = VaeLoss.Value(r, x, mu, logVar);

        // Backward, each line the formula libtorch's backward kernel for that operation uses.
        // BCE: (r - x) / max((1 - r) r, 1e-12); sigmoid: g (1 - r) r.
        var notR = 1 - r;
        var dLogits = (r - x).div_((notR * r).clamp_min_(1e-12)).mul_(notR).mul_(r);
        var (dW4, db4, dH3) = Back(fc4, dLogits, h3, Wide: true);
        var dA3 = ReluBack(dH3!, h3);
        var (dW3, db3, dZ) = Back(fc3, dA3, z, Wide: false);
        // log-variance: KL's exp(logvar) / 2, plus KL's -1/2, plus the noise path dz * eps * sigma / 2, added in the
        // order autograd's engine delivers them (float addition of three terms depends on the order).
        var dLogVar = (0.5 * logVar.exp()).add_(-0.5).add_((dZ! * eps).mul_(std).mul_(0.5));
        // mean: the noise path's dz plus KL's 0.5 * 2 mu.
        var dMu = dZ!.add_(mu);
        var (dW21, db21, dH1) = Back(fc21, dMu, h1, Wide: false);
        var (dW22, db22, dH1From22) = Back(fc22, dLogVar, h1, Wide: false);
        var dA1 = ReluBack(dH1!.add_(dH1From22!), h1);
        var (dW1, db1, _) = Back(fc1, dA1, x, Wide: true, inputGradient: false);

        var gradients = new[] { dW1, db1, dW21, db21, dW22, db22, dW3, db3, dW4, db4 };
        foreach (var g in gradients) g.MoveToOuterDisposeScope();
        return (loss, gradients);
    }

    /// <summary>
    /// relu's backward: the gradient where the output is positive, zero elsewhere. The output is never negative, so
    /// its sign is the 0/1 mask, and one vectorised multiply is four times faster than masked_fill here. Where
    /// libtorch's threshold_backward writes +0 this may write -0, which compares, adds and updates as +0 does.
    /// </summary>
    private static Tensor ReluBack(Tensor dOut, Tensor output)
    {
        using var mask = output.sign();
        return dOut.mul_(mask);
    }

    /// <summary>input @ weight^T + bias; the wide layers in bf16 when the shape asks for it (as <see cref="Bf16Linear"/>).</summary>
    private Tensor Product(TorchSharp.Modules.Linear layer, Tensor input, bool Wide)
    {
        if (!(Wide && Shape.Precision == Precision.Bf16)) return addmm(layer.bias!, input, layer.weight!.t(), 1, 1);
        using var input16 = input.to_type(ScalarType.BFloat16);
        using var weight16 = layer.weight!.to_type(ScalarType.BFloat16);
        using var bias16 = layer.bias!.to_type(ScalarType.BFloat16);
        using var y16 = addmm(bias16, input16, weight16.t(), 1, 1);
        return y16.to_type(ScalarType.Float32);
    }

    /// <summary>
    /// A linear layer's backward from the gradient of its output: the weight's and the bias's gradients, and the
    /// input's when asked. In bf16 the products run on bf16 copies and their results come back as fp32, as the
    /// autograd graph of <see cref="Bf16Linear"/> does.
    /// </summary>
    private (Tensor Weight, Tensor Bias, Tensor? Input) Back(TorchSharp.Modules.Linear layer, Tensor dOut, Tensor input,
        bool Wide, bool inputGradient = true)
    {
        if (!(Wide && Shape.Precision == Precision.Bf16))
            return (dOut.t().mm(input), dOut.sum(0L), inputGradient ? dOut.mm(layer.weight!) : null);
        using var dOut16 = dOut.to_type(ScalarType.BFloat16);
        using var input16 = input.to_type(ScalarType.BFloat16);
        using var weight16 = layer.weight!.to_type(ScalarType.BFloat16);
        using var dWeight16 = dOut16.t().mm(input16);
        using var dBias16 = dOut16.sum(0L);
        Tensor? dInput = null;
        if (inputGradient)
        {
            using var dInput16 = dOut16.mm(weight16);
            dInput = dInput16.to_type(ScalarType.Float32);
        }
        return (dWeight16.to_type(ScalarType.Float32), dBias16.to_type(ScalarType.Float32), dInput);
    }
}
