using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VaeCluster.Model;

/// <summary>
/// The reference VAE of pytorch/examples (784-400-20-400-784). Layer names match PyTorch's state_dict
/// (fc1, fc21, fc22, fc3, fc4) so that exported weights load there unchanged.
/// </summary>
public sealed partial class Vae : nn.Module<Tensor, Tensor, (Tensor Reconstruction, Tensor Mu, Tensor LogVar)>, IVae
{
    public const int ImagePixels = 784;

    public ModelShape Shape { get; }

    private readonly Linear fc1, fc21, fc22, fc3, fc4;
    /// <summary>The layers in the order the forward pass uses them, which is also state_dict order.</summary>
    private readonly Linear[] forwardOrder;

    public Vae(ModelShape shape) : base(nameof(Vae))
    {
        Shape = shape;
        fc1 = nn.Linear(ImagePixels, shape.Hidden);
        fc21 = nn.Linear(shape.Hidden, shape.Latent);
        fc22 = nn.Linear(shape.Hidden, shape.Latent);
        fc3 = nn.Linear(shape.Latent, shape.Hidden);
        fc4 = nn.Linear(shape.Hidden, ImagePixels);
        forwardOrder = [fc1, fc21, fc22, fc3, fc4];
        RegisterComponents();
    }

    public (Tensor Mu, Tensor LogVar) Encode(Tensor x)
    {
        using var h = nn.functional.relu(Wide(fc1, x));
        return (fc21.forward(h), fc22.forward(h));
    }

    /// <summary>z = mu + eps * sigma, with eps supplied by the caller so that sharding cannot change the noise.</summary>
    public static Tensor Reparameterize(Tensor mu, Tensor logVar, Tensor eps)
    {
        using var std = (0.5 * logVar).exp_();
        return mu + eps * std;
    }

    public Tensor Decode(Tensor z)
    {
        using var h = nn.functional.relu(fc3.forward(z));
        using var logits = Wide(fc4, h);
        return nn.functional.sigmoid(logits);
    }

    /// <summary>
    /// The two layers that meet the image carry 96% of the multiply-adds; only they run in bf16 when asked. The
    /// 20-wide latent layers stay fp32: at these sizes the casts cost more than bf16 saves (docs/BENCHMARKS.md,
    /// issue 17), and mu and log-variance keep full precision.
    /// </summary>
    private Tensor Wide(Linear layer, Tensor x) =>
        Shape.Precision == Precision.Bf16 ? Bf16Linear.Forward(layer, x) : layer.forward(x);

    /// <param name="x">images, [n, 784], values in [0, 1]</param>
    /// <param name="eps">standard normal noise, [n, latent]</param>
    public override (Tensor Reconstruction, Tensor Mu, Tensor LogVar) forward(Tensor x, Tensor eps)
    {
        var (mu, logVar) = Encode(x);
        using var z = Reparameterize(mu, logVar, eps);
        return (Decode(z), mu, logVar);
    }

    /// <summary>The summed negative ELBO of pytorch/examples (labels are not used: this model is unconditional).</summary>
    public (Tensor Total, Tensor Reconstruction, Tensor Kl) Loss(Tensor x, Tensor labels, Tensor eps)
    {
        var (reconstruction, mu, logVar) = forward(x, eps);
        return VaeLoss.Compute(reconstruction, x, mu, logVar);
    }

    public Tensor UnconditionalLoss(Tensor x, Tensor eps)
    {
        var (reconstruction, mu, logVar) = forward(x, eps);
        var (total, bce, kl) = VaeLoss.Compute(reconstruction, x, mu, logVar);
        using (bce) using (kl) return total;
    }

    /// <summary>Decodes the mean code: what the model keeps of x.</summary>
    public Tensor Reconstruct(Tensor x, Tensor labels)
    {
        var (mu, logVar) = Encode(x);
        using (logVar) using (mu) return Decode(mu);
    }

    /// <summary>New digits decoded from z = eps ~ N(0, I); this model cannot be asked for a digit.</summary>
    public Tensor Generate(Tensor eps, Tensor? digits, Generator? generator = null) => digits is null
        ? Decode(eps)
        : throw new InvalidOperationException("the reference VAE is unconditional: it cannot draw a chosen digit");

    public IReadOnlyList<(string Name, Tensor Tensor)> ExportTensors() => NamedParameters();

    /// <summary>
    /// Makes this replica compute with another model's parameter storage: single-process workers read the
    /// coordinator's parameters in place instead of copying 2.6 MB every step. Gradients stay this replica's own.
    /// </summary>
    public void ShareParametersOf(IReadOnlyList<(string Name, Tensor Tensor)> master)
    {
        var byName = master.ToDictionary(p => p.Name, p => p.Tensor);
        foreach (var (name, layer) in Layers())
        {
            layer.weight = new Parameter(byName[$"{name}.weight"].detach(), requires_grad: true);
            layer.bias = new Parameter(byName[$"{name}.bias"].detach(), requires_grad: true);
        }
    }

    /// <summary>Copies saved values into the parameters; names and shapes must match exactly.</summary>
    public void LoadParameters(IReadOnlyDictionary<string, Tensor> saved)
    {
        using var _ = no_grad();
        foreach (var (name, tensor) in NamedParameters())
        {
            if (!saved.TryGetValue(name, out var value))
                throw new InvalidDataException($"parameter {name} is missing");
            if (!value.shape.SequenceEqual(tensor.shape))
                throw new InvalidDataException($"parameter {name} has shape [{string.Join(",", value.shape)}], expected [{string.Join(",", tensor.shape)}]");
            tensor.copy_(value);
        }
    }

    private IEnumerable<(string Name, Linear Layer)> Layers() =>
        [("fc1", fc1), ("fc21", fc21), ("fc22", fc22), ("fc3", fc3), ("fc4", fc4)];

    /// <summary>Parameters in PyTorch's state_dict order, with PyTorch's names.</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> NamedParameters() =>
        named_parameters().Select(p => (p.name, (Tensor)p.parameter)).ToList();
}
