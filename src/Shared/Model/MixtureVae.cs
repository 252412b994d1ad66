using static TorchSharp.torch;

namespace VaeCluster.Model;

/// <summary>
/// The reference network (same layers, same names) with a digit-conditional prior: p(z | y) = N(m_y, I), one
/// component per digit, p(y) = 1/10. Training pulls each digit's codes to its own component; asking for a 7
/// means decoding z ~ N(m_7, I). The means are fixed, not learned: m_k = spacing * e_k (docs/MIXTURE_MODEL.md).
/// </summary>
public sealed class MixtureVae : IVae
{
    public const int Components = 10;

    /// <summary>Distance of each mean from the origin; two means are spacing * sqrt(2) apart.</summary>
    public const float Spacing = 5f;

    public const string MeansName = "prior.means";

    private readonly Vae network;
    private readonly Tensor means;

    public MixtureVae(ModelShape shape)
    {
        if (shape.Latent < Components)
            throw new ArgumentException($"the mixture model needs a latent size of at least {Components}, got {shape.Latent}", nameof(shape));
        Shape = shape;
        network = new Vae(shape, conditionInputs: Components);
        means = ComponentMeans(shape.Latent);
    }

    public ModelShape Shape { get; }

    /// <summary>[10, latent]: row k is spacing * e_k, so the components are equally far apart and barely overlap.</summary>
    public static Tensor ComponentMeans(int latent)
    {
        using var axes = eye(Components, latent);
        return (axes * Spacing).DetachFromDisposeScope();
    }

    public IReadOnlyList<(string Name, Tensor Tensor)> NamedParameters() => network.NamedParameters();

    public void ShareParametersOf(IReadOnlyList<(string Name, Tensor Tensor)> master) => network.ShareParametersOf(master);

    public void LoadParameters(IReadOnlyDictionary<string, Tensor> saved) => network.LoadParameters(saved);

    public (Tensor Total, Tensor Reconstruction, Tensor Kl) Loss(Tensor x, Tensor labels, Tensor eps)
    {
        var (mu, logVar) = network.Encode(x);
        using var z = Vae.Reparameterize(mu, logVar, eps);
        var reconstruction = Decode(z, labels);
        using var componentMeans = means.index_select(0, labels);
        return MixtureLoss.Compute(reconstruction, x, mu, logVar, componentMeans);
    }

    public Tensor Reconstruct(Tensor x, Tensor labels)
    {
        var (mu, logVar) = network.Encode(x);
        using (logVar) using (mu) return Decode(mu, labels);
    }

    /// <summary>The decoder reads the digit beside z, so it never has to guess the digit from where z landed.</summary>
    private static Tensor OneHot(Tensor digits)
    {
        using var hot = nn.functional.one_hot(digits, Components);
        return hot.to_type(ScalarType.Float32);
    }

    private Tensor Decode(Tensor z, Tensor digits)
    {
        using var oneHot = OneHot(digits);
        using var input = cat([z, oneHot], 1);
        return network.Decode(input);
    }

    /// <summary>z = m_y + eps for each asked digit y. Drawing from the whole mixture means drawing y uniformly first (DigitSampler).</summary>
    public Tensor Generate(Tensor eps, Tensor? digits)
    {
        if (digits is null)
            throw new ArgumentNullException(nameof(digits), "the mixture model decodes from a component: draw the digits first (uniformly, for the whole mixture)");
        using var componentMeans = means.index_select(0, digits);
        using var z = componentMeans + eps;
        return Decode(z, digits);
    }

    public IReadOnlyList<(string Name, Tensor Tensor)> ExportTensors() => [.. network.NamedParameters(), (MeansName, means)];

    public void zero_grad(bool set_to_none = true) => network.zero_grad(set_to_none);

    public void Dispose()
    {
        network.Dispose();
        means.Dispose();
    }
}
