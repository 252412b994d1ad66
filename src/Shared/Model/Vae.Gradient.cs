using VaeCluster.DataPlane;
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
    /// <param name="arrival">where the parameters stream in (TCP): each layer's forward waits for its own tensors only</param>
    public (float Loss, IReadOnlyList<Tensor> Gradients) LossAndGradients(Tensor x, Tensor labels, Tensor eps, ParameterArrival? arrival = null)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();

        // Forward (as forward() computes it), keeping what the backward needs.
        var (a1, fc1In) = Forward(fc1, x, wide: true, arrival);
        var h1 = nn.functional.relu(a1);
        var (mu, fc21In) = Forward(fc21, h1, wide: false, arrival);
        var (logVar, fc22In) = Forward(fc22, h1, wide: false, arrival);
        var std = (0.5 * logVar).exp_();
        var z = mu + eps * std;
        var (a3, fc3In) = Forward(fc3, z, wide: false, arrival);
        var h3 = nn.functional.relu(a3);
        var (logits, fc4In) = Forward(fc4, h3, wide: true, arrival);
        var r = nn.functional.sigmoid(logits);
        var loss = VaeLoss.Value(r, x, mu, logVar);

        // Backward, each line the formula libtorch's backward kernel for that operation uses.
        // BCE: (r - x) / max((1 - r) r, 1e-12); sigmoid: g (1 - r) r.
        var notR = 1 - r;
        var dLogits = (r - x).div_((notR * r).clamp_min_(1e-12)).mul_(notR).mul_(r);
        var (dW4, db4, dH3) = Back(fc4In, dLogits);
        var dA3 = ReluBack(dH3!, h3);
        var (dW3, db3, dZ) = Back(fc3In, dA3);
        // log-variance: KL's exp(logvar) / 2, plus KL's -1/2, plus the noise path dz * eps * sigma / 2, added in the
        // order autograd's engine delivers them (float addition of three terms depends on the order).
        var dLogVar = (0.5 * logVar.exp()).add_(-0.5).add_((dZ! * eps).mul_(std).mul_(0.5));
        // mean: the noise path's dz plus KL's 0.5 * 2 mu.
        var dMu = dZ!.add_(mu);
        var (dW21, db21, dH1) = Back(fc21In, dMu);
        var (dW22, db22, dH1From22) = Back(fc22In, dLogVar);
        var dA1 = ReluBack(dH1!.add_(dH1From22!), h1);
        var (dW1, db1, _) = Back(fc1In, dA1, inputGradient: false);

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

    /// <summary>What a layer's forward keeps for its backward: its input, and in bf16 the bf16 copies it multiplied.</summary>
    private sealed record LayerInput(TorchSharp.Modules.Linear Layer, Tensor Input, Tensor? Input16 = null, Tensor? Weight16 = null);

    /// <summary>
    /// input @ weight^T + bias. The wide layers multiply in bf16 when the shape asks for it (as <see cref="Bf16Linear"/>),
    /// and their bf16 copies are kept for the backward, as autograd keeps them.
    /// </summary>
    private (Tensor Output, LayerInput Saved) Forward(TorchSharp.Modules.Linear layer, Tensor input, bool wide, ParameterArrival? arrival)
    {
        // Parameters are in state_dict order, two tensors a layer (weight, bias), and the layers in the forward's order.
        arrival?.WaitFor(2 * (Array.IndexOf(forwardOrder, layer) + 1));
        if (!(wide && Shape.Precision == Precision.Bf16))
            return (addmm(layer.bias!, input, layer.weight!.t(), 1, 1), new LayerInput(layer, input));
        var input16 = input.to_type(ScalarType.BFloat16);
        var weight16 = layer.weight!.to_type(ScalarType.BFloat16);
        using var bias16 = layer.bias!.to_type(ScalarType.BFloat16);
        using var y16 = addmm(bias16, input16, weight16.t(), 1, 1);
        return (y16.to_type(ScalarType.Float32), new LayerInput(layer, input, input16, weight16));
    }

    /// <summary>
    /// A linear layer's backward from the gradient of its output: the weight's and the bias's gradients, and the
    /// input's when asked. In bf16 the products run on the forward's bf16 copies and their results come back as
    /// fp32, as the autograd graph of <see cref="Bf16Linear"/> does.
    /// </summary>
    private static (Tensor Weight, Tensor Bias, Tensor? Input) Back(LayerInput saved, Tensor dOut, bool inputGradient = true)
    {
        if (saved.Input16 is null || saved.Weight16 is null)
            return (dOut.t().mm(saved.Input), dOut.sum(0L), inputGradient ? dOut.mm(saved.Layer.weight!) : null);
        using var dOut16 = dOut.to_type(ScalarType.BFloat16);
        using var dWeight16 = dOut16.t().mm(saved.Input16);
        using var dBias16 = dOut16.sum(0L);
        Tensor? dInput = null;
        if (inputGradient)
        {
            using var dInput16 = dOut16.mm(saved.Weight16);
            dInput = dInput16.to_type(ScalarType.Float32);
        }
        return (dWeight16.to_type(ScalarType.Float32), dBias16.to_type(ScalarType.Float32), dInput);
    }
}
