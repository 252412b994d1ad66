using static TorchSharp.torch;

namespace VaeCluster.Model;

/// <summary>
/// The reference network (same layers, names and shapes; the decoder reads z alone) with a learned mixture prior,
/// one Gaussian per digit (<see cref="MixturePrior"/>). Training with the labels pulls each digit's codes into its
/// own component and fits the component to them; asking for a 7 means decoding z ~ N(m_7, diag(exp(v_7))).
/// docs/MIXTURE_MODEL.md gives the formulas and the variants measured.
/// </summary>
public sealed class MixtureVae : IVae
{
    public const int Components = MixturePrior.Components;

    // EXPERIMENT KNOBS (removed before commit)
    public static readonly float InitialSpacing = float.Parse(Environment.GetEnvironmentVariable("VAE_MIX_SPACING") ?? "5", System.Globalization.CultureInfo.InvariantCulture);
    public static readonly double ClassWeight = double.Parse(Environment.GetEnvironmentVariable("VAE_MIX_WEIGHT") ?? "1", System.Globalization.CultureInfo.InvariantCulture);

    private readonly Vae network;
    private readonly MixturePrior prior;

    public MixtureVae(ModelShape shape)
    {
        if (shape.Latent < Components)
            throw new ArgumentException($"the mixture model needs a latent size of at least {Components}, got {shape.Latent}", nameof(shape));
        Shape = shape;
        network = new Vae(shape);
        prior = new MixturePrior(shape.Latent, InitialSpacing);
    }

    public ModelShape Shape { get; }

    /// <summary>The network's parameters in PyTorch's order, then prior.means and prior.logvars.</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> NamedParameters() => [.. network.NamedParameters(), .. prior.NamedParameters()];

    public void ShareParametersOf(IReadOnlyList<(string Name, Tensor Tensor)> master)
    {
        network.ShareParametersOf(master);
        prior.ShareParametersOf(master.ToDictionary(p => p.Name, p => p.Tensor));
    }

    public void LoadParameters(IReadOnlyDictionary<string, Tensor> saved)
    {
        network.LoadParameters(saved);
        foreach (var (name, tensor) in prior.NamedParameters())
        {
            if (!saved.TryGetValue(name, out var value))
                throw new InvalidDataException($"parameter {name} is missing (a mixture model from before the prior was learned? train it again)");
            if (!value.shape.SequenceEqual(tensor.shape))
                throw new InvalidDataException($"parameter {name} has shape [{string.Join(",", value.shape)}], expected [{string.Join(",", tensor.shape)}]");
        }
        prior.LoadValues(saved[MixturePrior.Prefix + "means"], saved[MixturePrior.Prefix + "logvars"]);
    }

    /// <summary>The training objective (<see cref="MixtureLoss.Compute"/>): the labels pick each code's component.</summary>
    public (Tensor Total, Tensor Reconstruction, Tensor Kl) Loss(Tensor x, Tensor labels, Tensor eps)
    {
        using var scope = NewDisposeScope();
        var (reconstruction, mu, logVar) = network.forward(x, eps);
        var z = Vae.Reparameterize(mu, logVar, eps);
        var densities = ClassWeight == 1 ? empty(0) : prior.ComponentLogDensities(z);
        var (total, bce, kl) = MixtureLoss.Compute(reconstruction, x, mu, logVar, labels, prior.Means, prior.LogVars, densities, ClassWeight);
        return (total.MoveToOuterDisposeScope(), bce.MoveToOuterDisposeScope(), kl.MoveToOuterDisposeScope());
    }

    /// <summary>The bound on -log p(x) without labels: BCE + the KL to the whole mixture, estimated at z = mu + sigma * eps.</summary>
    public Tensor UnconditionalLoss(Tensor x, Tensor eps)
    {
        using var scope = NewDisposeScope();
        var (reconstruction, mu, logVar) = network.forward(x, eps);
        var z = Vae.Reparameterize(mu, logVar, eps);
        var bce = nn.functional.binary_cross_entropy(reconstruction, x, reduction: nn.Reduction.Sum);
        var kl = MixtureLoss.KlToMixtureEstimate(eps, logVar, prior.ComponentLogDensities(z));
        return (bce + kl).MoveToOuterDisposeScope();
    }

    public Tensor Reconstruct(Tensor x, Tensor labels) => network.Reconstruct(x, labels);

    public (Tensor Mu, Tensor LogVar) Encode(Tensor x) => network.Encode(x);

    public Tensor Decode(Tensor z) => network.Decode(z);

    /// <summary>z = m_y + sigma_y * eps for each asked digit y. Drawing from the whole mixture means drawing y uniformly first (DigitSampler).</summary>
    public Tensor Generate(Tensor eps, Tensor? digits)
    {
        if (digits is null)
            throw new ArgumentNullException(nameof(digits), "the mixture model decodes from a component: draw the digits first");
        using var z = prior.Sample(eps, digits);
        return network.Decode(z);
    }

    public IReadOnlyList<(string Name, Tensor Tensor)> ExportTensors() => NamedParameters();

    public void zero_grad(bool set_to_none = true)
    {
        network.zero_grad(set_to_none);
        prior.zero_grad(set_to_none);
    }

    public void Dispose()
    {
        network.Dispose();
        prior.Dispose();
    }
}
