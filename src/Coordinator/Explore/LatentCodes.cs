using VaeCluster.Model;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Explore;

/// <summary>The encoder's mean code mu of each image: where the model puts a digit, without sampling noise.</summary>
public static class LatentCodes
{
    private const int Chunk = 1000;

    /// <param name="images">[n, 784], pixels in [0, 1]</param>
    /// <returns>[n, latent], owned by the caller</returns>
    public static Tensor Means(IVae model, Tensor images)
    {
        using var _ = no_grad();
        var parts = new List<Tensor>();
        try
        {
            for (long start = 0; start < images.shape[0]; start += Chunk)
            {
                var (mu, logVar) = model.Encode(images.narrow(0, start, Math.Min(Chunk, images.shape[0] - start)));
                logVar.Dispose();
                parts.Add(mu);
            }
            return cat(parts, 0);
        }
        finally
        {
            foreach (var p in parts) p.Dispose();
        }
    }

    /// <summary>The mean of the codes whose label is <paramref name="digit"/>: the model's typical code for that digit.</summary>
    public static Tensor MeanOfDigit(Tensor codes, byte[] labels, int digit)
    {
        var rows = Enumerable.Range(0, labels.Length).Where(i => labels[i] == digit).Select(i => (long)i).ToArray();
        if (rows.Length == 0) throw new ArgumentException($"no image of digit {digit}", nameof(digit));
        using var index = tensor(rows);
        using var selected = codes.index_select(0, index);
        return selected.mean([0]);
    }
}
