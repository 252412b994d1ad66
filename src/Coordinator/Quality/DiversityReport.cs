using System.Text;
using VaeCluster.Data;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Quality;

/// <summary>
/// How varied the generated digits of each class are: the mean pixel-space (Euclidean) distance between two
/// generated digits of the class, divided by the same mean over the real test digits of the class. 1.0 = as
/// varied as real digits; a model that draws one template per digit scores near 0.
/// </summary>
public sealed record DiversityReport(IReadOnlyList<(int Digit, double Ratio)> PerDigit)
{
    public double Worst => PerDigit.Min(d => d.Ratio);

    /// <param name="generated">[n, 784] pixels in [0, 1], the images recognition judged</param>
    /// <param name="asked">the digit asked for each row</param>
    public static DiversityReport Of(Tensor generated, byte[] asked, MnistSplit test) => new(
        asked.Distinct().Order().Select(digit =>
            (Digit: (int)digit, Ratio: MeanPairwiseDistance(generated, asked, digit) / MeanPairwiseDistance(test.Images, test.Labels, digit)))
        .ToList());

    public IReadOnlyDictionary<string, double> RatioByDigit => PerDigit.ToDictionary(d => d.Digit.ToString(), d => Math.Round(d.Ratio, 4));

    /// <summary>The mean over all ordered pairs of distinct rows labelled <paramref name="digit"/>.</summary>
    private static double MeanPairwiseDistance(Tensor images, byte[] labels, byte digit)
    {
        using var scope = NewDisposeScope();
        var rows = tensor(labels.Select((l, i) => (l, (long)i)).Where(p => p.l == digit).Select(p => p.Item2).ToArray());
        long n = rows.shape[0];
        if (n < 2) return double.NaN;
        var x = images.index_select(0, rows);
        return cdist(x, x).sum().item<float>() / (n * (n - 1.0)); // the diagonal is zero
    }

    public string Table()
    {
        var text = new StringBuilder("digit  diversity\n");
        foreach (var (digit, ratio) in PerDigit) text.AppendLine($"{digit,5}  {ratio,9:F2}");
        text.Append($"worst  {Worst,9:F2}");
        return text.ToString();
    }
}
