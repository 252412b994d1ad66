namespace VaeCluster.Model;

/// <summary>
/// The sizes and kind that define a model, and the precision its wide products run in; the image size is fixed by
/// MNIST. <see cref="ModelFactory"/> builds it. Workers build their replicas from it, so they compute as the run asks.
/// </summary>
public sealed record ModelShape(int Hidden = 400, int Latent = 20, ModelKind Kind = ModelKind.Vae, Precision Precision = Precision.Fp32)
{
    public static readonly ModelShape Reference = new();
}
