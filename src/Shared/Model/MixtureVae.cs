using static TorchSharp.torch;

namespace VaeCluster.Model;

/// <summary>
/// The reference network (same layers, names and shapes; the decoder reads z alone) with a learned mixture prior,
/// a few Gaussians per digit (<see cref="MixturePrior"/>). Training with the labels pulls each digit's codes into
/// its own components; the export refits the prior to the codes (<see cref="ExportWithFittedPrior"/>); asking for a
/// 7 means decoding a draw from p(z | 7).
/// docs/MIXTURE_MODEL.md gives the formulas and the variants measured.
/// </summary>
public sealed class MixtureVae : IVae
{
    public const int Components = MixturePrior.Digits;

    /// <summary>Where digit y's components start: 10 e_y. Measured against 5 in docs/MIXTURE_MODEL.md.</summary>
    public const float InitialSpacing = 10f;

    /// <summary>Gaussians per digit: one Gaussian cannot follow a digit's codes (several styles); measured 1, 3 and 6.</summary>
    public const int PerDigit = 6;

    /// <summary>w, the weight of the latent classification term -log p(y|z) (1 = the plain label bound); measured 1 to 30.</summary>
    public const double ClassWeight = 20;

    /// <summary>
    /// beta, the weight of the KL term in training (1 = the bound). Below 1 the codes keep more of each image, so the
    /// decoded digits are sharper and more varied; the exported prior is fitted to the codes afterwards
    /// (<see cref="MixturePriorFit"/>), so the model's ELBO, computed with beta = 1, stays within the bar. Measured 1 and 0.5.
    /// </summary>
    public const double KlWeight = 0.5;

    private readonly Vae network;
    private MixturePrior prior;

    public MixtureVae(ModelShape shape)
    {
        if (shape.Latent < Components)
            throw new ArgumentException($"the mixture model needs a latent size of at least {Components}, got {shape.Latent}", nameof(shape));
        Shape = shape;
        network = new Vae(shape);
        prior = new MixturePrior(shape.Latent, InitialSpacing, PerDigit);
    }

    public ModelShape Shape { get; }

    /// <summary>The network's parameters in PyTorch's order, then prior.means and prior.logvars.</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> NamedParameters() => [.. network.NamedParameters(), .. prior.NamedParameters()];

    public void ShareParametersOf(IReadOnlyList<(string Name, Tensor Tensor)> master)
    {
        network.ShareParametersOf(master);
        prior.ShareParametersOf(master.ToDictionary(p => p.Name, p => p.Tensor));
    }

    /// <summary>
    /// Loads the network and the prior. A checkpoint holds training's <see cref="PerDigit"/> components per digit, an
    /// export the refitted prior's (<see cref="MixturePriorFit"/>): the prior takes the size it finds, any [10 j, latent].
    /// </summary>
    public void LoadParameters(IReadOnlyDictionary<string, Tensor> saved)
    {
        network.LoadParameters(saved);
        foreach (var (name, _) in prior.NamedParameters())
            if (!saved.ContainsKey(name))
                throw new InvalidDataException($"parameter {name} is missing (a mixture model from before the prior was learned? train it again)");
        var means = saved[MixturePrior.Prefix + "means"];
        var logvars = saved[MixturePrior.Prefix + "logvars"];
        long rows = means.shape[0];
        if (means.dim() != 2 || rows == 0 || rows % Components != 0 || means.shape[1] != Shape.Latent)
            throw new InvalidDataException($"parameter {MixturePrior.Prefix}means has shape [{string.Join(",", means.shape)}], expected [10 j, {Shape.Latent}] (j components per digit)");
        if (!logvars.shape.SequenceEqual(means.shape))
            throw new InvalidDataException($"parameter {MixturePrior.Prefix}logvars has shape [{string.Join(",", logvars.shape)}], expected [{string.Join(",", means.shape)}] like prior.means");
        if (rows != Components * prior.PerDigit)
        {
            prior.Dispose();
            prior = new MixturePrior(Shape.Latent, InitialSpacing, (int)(rows / Components));
        }
        prior.LoadValues(means, logvars);
    }

    /// <summary>
    /// What the run exports: the network as trained and the prior refitted to the codes of the training images
    /// (<see cref="MixturePriorFit"/>). This model itself is left as it is (its checkpoints keep training's prior).
    /// </summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> ExportWithFittedPrior(Tensor trainImages, Tensor trainLabels, long seed)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        // In batches: the densities of all 60,000 codes at once would take [60000, K, latent] floats.
        var encoded = trainImages.split(4096).Zip(trainLabels.split(4096), (images, labels) =>
        {
            var (mu, logVar) = network.Encode(images);
            return (mu, logVar, Own: prior.DigitLogDensities(mu).softmax(1).gather(1, labels.unsqueeze(1)).squeeze(1));
        }).ToList();
        var mu = cat(encoded.Select(e => e.mu).ToList());
        var logVar = cat(encoded.Select(e => e.logVar).ToList());
        var ownDigit = cat(encoded.Select(e => e.Own).ToList());
        if (MixturePriorFit.Fit(mu, logVar, trainLabels, ownDigit, prior.Means, prior.LogVars, seed) is not { } fitted)
            return ExportTensors();
        fitted.Means.MoveToOuterDisposeScope();
        fitted.LogVars.MoveToOuterDisposeScope();
        return [.. network.NamedParameters(), (MixturePrior.Prefix + "means", fitted.Means), (MixturePrior.Prefix + "logvars", fitted.LogVars)];
    }

    /// <summary>The training objective (<see cref="MixtureLoss.Compute"/>): the labels pick each code's component.</summary>
    public (Tensor Total, Tensor Reconstruction, Tensor Kl) Loss(Tensor x, Tensor labels, Tensor eps)
    {
        using var scope = NewDisposeScope();
        var (reconstruction, mu, logVar) = network.forward(x, eps);
        var z = Vae.Reparameterize(mu, logVar, eps);
        var densities = prior.DigitLogDensities(z);
        var (total, bce, kl) = MixtureLoss.Compute(reconstruction, x, logVar, labels, densities, ClassWeight, KlWeight);
        return (total.MoveToOuterDisposeScope(), bce.MoveToOuterDisposeScope(), kl.MoveToOuterDisposeScope());
    }

    /// <summary>The bound on -log p(x) without labels: BCE + the KL to the whole mixture, estimated at z = mu + sigma * eps.</summary>
    public Tensor UnconditionalLoss(Tensor x, Tensor eps)
    {
        using var scope = NewDisposeScope();
        var (reconstruction, mu, logVar) = network.forward(x, eps);
        var z = Vae.Reparameterize(mu, logVar, eps);
        var bce = nn.functional.binary_cross_entropy(reconstruction, x, reduction: nn.Reduction.Sum);
        var kl = MixtureLoss.KlToMixtureEstimate(eps, logVar, prior.DigitLogDensities(z));
        return (bce + kl).MoveToOuterDisposeScope();
    }

    public Tensor Reconstruct(Tensor x, Tensor labels) => network.Reconstruct(x, labels);

    public (Tensor Mu, Tensor LogVar) Encode(Tensor x) => network.Encode(x);

    public Tensor Decode(Tensor z) => network.Decode(z);

    /// <summary>
    /// z = m_k + sigma_k * eps, k one of the asked digit's components (drawn with <paramref name="generator"/>).
    /// Drawing from the whole mixture means drawing y uniformly first (DigitSampler).
    /// </summary>
    public Tensor Generate(Tensor eps, Tensor? digits, Generator? generator = null)
    {
        if (digits is null)
            throw new ArgumentNullException(nameof(digits), "the mixture model decodes from a component: draw the digits first");
        using var z = prior.Sample(eps, digits, generator);
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
