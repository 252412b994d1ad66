using VaeCluster.Data;
using VaeCluster.Imaging;
using VaeCluster.Model;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Run;

/// <summary>The pictures a run draws: new digits from the prior, and test digits beside their reconstructions.</summary>
public static class RunPictures
{
    /// <summary>Decodes <paramref name="count"/> draws from the prior (the whole mixture, for the mixture model); a fixed seed shows progress on the same z.</summary>
    public static void Samples(IVae model, string path, int count, long seed) =>
        Grid(DigitSampler.Draw(model, digits: null, count, seed), path);

    /// <summary>
    /// Drawn digits as a grid: one row per digit asked for when the rows stay short (at most 32 per digit),
    /// otherwise a near-square grid in the same order.
    /// </summary>
    public static void Grid(DrawnDigits drawn, string path)
    {
        int perDigit = drawn.Labels is null ? 0 : drawn.Labels.CountBy(l => l).Max(g => g.Value);
        bool rowPerDigit = drawn.Labels is not null && perDigit <= 32 && drawn.Labels.Distinct().Count() * perDigit == drawn.Count
            && IsGrouped(drawn.Labels);
        int columns = rowPerDigit ? perDigit : (int)Math.Ceiling(Math.Sqrt(drawn.Count));
        DigitGrid.SavePng(path, drawn.Pixels, columns);
    }

    private static bool IsGrouped(byte[] labels) =>
        labels.Where((l, i) => i == 0 || labels[i - 1] != l).Count() == labels.Distinct().Count();

    /// <summary>Rows of 8 test digits, each row followed by the model's reconstruction of it (mean code, no noise).</summary>
    public static void Reconstructions(IVae model, MnistSplit test, string path, int pairsOfRows = 4)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        const int columns = 8;
        int n = pairsOfRows * columns;
        var x = test.Images.narrow(0, 0, n);
        var reconstruction = model.Reconstruct(x, LabelTensor.Of(test.Labels, 0, n));
        var rows = new List<Tensor>();
        for (int r = 0; r < pairsOfRows; r++)
        {
            rows.Add(x.narrow(0, r * columns, columns));
            rows.Add(reconstruction.narrow(0, r * columns, columns));
        }
        DigitGrid.SavePng(path, cat(rows, 0).data<float>().ToArray(), columns);
    }
}
