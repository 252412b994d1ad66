using static TorchSharp.torch;

namespace VaeCluster.Model;

/// <summary>The one place that turns a shape into a model, so the coordinator, workers, exports and generation agree.</summary>
public static class ModelFactory
{
    // Layers draw their initial weights from libtorch's process-wide default generator. Every model is built
    // under this lock, so a worker replica built on another thread cannot take draws from a seeded stream.
    private static readonly Lock DefaultGenerator = new();

    public static IVae Create(ModelShape shape)
    {
        lock (DefaultGenerator) return New(shape);
    }

    /// <summary>
    /// Initialises the model as PyTorch does after <c>torch.manual_seed(seed)</c> and returns, with it, a private
    /// generator positioned where PyTorch's global one would be next: the rest of the run's random stream.
    /// </summary>
    public static (IVae Model, Generator Stream) CreateSeeded(ModelShape shape, long seed)
    {
        lock (DefaultGenerator)
        {
            manual_seed(seed);
            var model = New(shape);
            var stream = new Generator(0);
            using var state = random.get_rng_state();
            stream.set_state(state);
            return (model, stream);
        }
    }

    private static IVae New(ModelShape shape) => shape.Kind switch
    {
        ModelKind.Vae => new Vae(shape),
        ModelKind.Mixture => new MixtureVae(shape),
        _ => throw new ArgumentOutOfRangeException(nameof(shape), shape.Kind, "unknown model kind"),
    };
}
