using static TorchSharp.torch;

namespace VaeCluster.Model;

/// <summary>
/// The reference network (same layers, names and shapes) with a digit-conditional prior: p(z | y) = N(m_y, I), one
/// component per digit, p(y) = 1/10. Training pulls each digit's codes to its own component; asking for a 7 means
/// decoding z ~ N(m_7, I). The means are fixed, not learned: m_k = Spacing * e_k (docs/MIXTURE_MODEL.md says why).
/// </summary>
public sealed class MixtureVae : IVae
{
    public const int Components = 10;

    /// <summary>
    /// Distance of each mean from the origin (two means are Spacing * sqrt(2) = 21 apart). Wide spacing makes the
    /// encoder commit each image to one component, which is what makes a draw from component 9 look like a 9;
    /// measured against 5 and 10 in docs/MIXTURE_MODEL.md.
    /// </summary>
    public const float Spacing = 15f;

    public const string MeansName = "prior.means";

    private readonly Vae network;
    private readonly Tensor means;

    public MixtureVae(ModelShape shape)
    {
        if (shape.Latent < Components)
            throw new ArgumentException($"the mixture model needs a latent size of at least {Components}, got {shape.Latent}", nameof(shape));
        Shape = shape;
        network = new Vae(shape);
        means = ComponentMeans(shape.Latent);
    }

    public ModelShape Shape { get; }

    /// <summary>[10, latent]: row k is Spacing * e_k, so the components are equally far apart.</summary>
    public static Tensor ComponentMeans(int latent)
    {
        using var axes = eye(Components, latent);
        return (axes * Spacing).DetachFromDisposeScope();
    }

    public IReadOnlyList<(string Name, Tensor Tensor)> NamedParameters() => network.NamedParameters();

    public void ShareParametersOf(IReadOnlyList<(string Name, Tensor Tensor)> master) => network.ShareParametersOf(master);

    public void LoadParameters(IReadOnlyDictionary<string, Tensor> saved) => network.LoadParameters(saved);

    /// <summary>The training objective: the labels pick the component each code is pulled to.</summary>
    public (Tensor Total, Tensor Reconstruction, Tensor Kl) Loss(Tensor x, Tensor labels, Tensor eps)
    {
        var (reconstruction, mu, logVar) = network.forward(x, eps);
        using var componentMeans = means.index_select(0, labels);
        return MixtureLoss.Compute(reconstruction, x, mu, logVar, componentMeans);
    }

    /// <summary>The bound on -log p(x) without labels: KL to the whole mixture, estimated at z = mu + sigma * eps.</summary>
    public Tensor UnconditionalLoss(Tensor x, Tensor eps)
    {
        var (reconstruction, mu, logVar) = network.forward(x, eps);
        using var z = Vae.Reparameterize(mu, logVar, eps);
        using var bce = nn.functional.binary_cross_entropy(reconstruction, x, reduction: nn.Reduction.Sum);
        using var kl = MixtureLoss.KlToMixtureEstimate(z, eps, logVar, means);
        return bce + kl;
    }

    public Tensor Reconstruct(Tensor x, Tensor labels) => network.Reconstruct(x, labels);

    public (Tensor Mu, Tensor LogVar) Encode(Tensor x) => network.Encode(x);

    public Tensor Decode(Tensor z) => network.Decode(z);

    /// <summary>z = m_y + eps for each asked digit y. Drawing from the whole mixture means drawing y uniformly first (DigitSampler).</summary>
    public Tensor Generate(Tensor eps, Tensor? digits)
    {
        if (digits is null)
            throw new ArgumentNullException(nameof(digits), "the mixture model decodes from a component: draw the digits first");
        using var componentMeans = means.index_select(0, digits);
        using var z = componentMeans + eps;
        return network.Decode(z);
    }

    public IReadOnlyList<(string Name, Tensor Tensor)> ExportTensors() => [.. network.NamedParameters(), (MeansName, means)];

    public void zero_grad(bool set_to_none = true) => network.zero_grad(set_to_none);

    public void Dispose()
    {
        network.Dispose();
        means.Dispose();
    }
}
