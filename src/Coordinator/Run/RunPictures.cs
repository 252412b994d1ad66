using VaeCluster.Imaging;
using VaeCluster.Model;
using VaeCluster.Training;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Run;

/// <summary>The pictures a run draws: new digits from the prior, and test digits beside their reconstructions.</summary>
public static class RunPictures
{
    /// <summary>Decodes <paramref name="count"/> latent draws from N(0, I); a fixed seed shows progress on the same z.</summary>
    public static void Samples(Vae model, string path, int count, long seed)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        using var generator = new Generator(EpochOrder.Mix((ulong)seed));
        var z = randn(new long[] { count, model.Shape.Latent }, generator: generator);
        var digits = model.Decode(z);
        DigitGrid.SavePng(path, digits.data<float>().ToArray(), columns: (int)Math.Ceiling(Math.Sqrt(count)));
    }

    /// <summary>Rows of 8 test digits, each row followed by the model's reconstruction of it (mean code, no noise).</summary>
    public static void Reconstructions(Vae model, Tensor testImages, string path, int pairsOfRows = 4)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        const int columns = 8;
        var x = testImages.narrow(0, 0, pairsOfRows * columns);
        var (mu, _) = model.Encode(x);
        var reconstruction = model.Decode(mu);
        var rows = new List<Tensor>();
        for (int r = 0; r < pairsOfRows; r++)
        {
            rows.Add(x.narrow(0, r * columns, columns));
            rows.Add(reconstruction.narrow(0, r * columns, columns));
        }
        DigitGrid.SavePng(path, cat(rows, 0).data<float>().ToArray(), columns);
    }
}
