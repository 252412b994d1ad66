namespace VaeCluster.Model;

/// <summary>The sizes and kind that define a model; the image size is fixed by MNIST. <see cref="ModelFactory"/> builds it.</summary>
public sealed record ModelShape(int Hidden = 400, int Latent = 20, ModelKind Kind = ModelKind.Vae)
{
    public static readonly ModelShape Reference = new();
}
