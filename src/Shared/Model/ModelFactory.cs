namespace VaeCluster.Model;

/// <summary>The one place that turns a shape into a model, so the coordinator, workers, exports and generation agree.</summary>
public static class ModelFactory
{
    public static IVae Create(ModelShape shape) => shape.Kind switch
    {
        ModelKind.Vae => new Vae(shape),
        ModelKind.Mixture => new MixtureVae(shape),
        _ => throw new ArgumentOutOfRangeException(nameof(shape), shape.Kind, "unknown model kind"),
    };
}
