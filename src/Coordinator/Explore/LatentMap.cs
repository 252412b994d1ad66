using ScottPlot;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Explore;

/// <summary>
/// A map of the test set in latent space: one dot per image at its mean code, coloured by its digit. A latent
/// space of more than two dimensions is shown through its first two principal components.
/// </summary>
public static class LatentMap
{
    /// <param name="codes">mean codes [n, latent]</param>
    public static void Draw(Tensor codes, byte[] labels, string path)
    {
        int latent = (int)codes.shape[1];
        var (xs, ys, xLabel, yLabel) = Axes(codes, latent);

        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int digit = 0; digit <= 9; digit++)
        {
            var rows = Enumerable.Range(0, labels.Length).Where(i => labels[i] == digit).ToArray();
            if (rows.Length == 0) continue;
            var dots = plot.Add.ScatterPoints(rows.Select(i => (double)xs[i]).ToArray(), rows.Select(i => (double)ys[i]).ToArray(),
                palette.GetColor(digit).WithAlpha(0.45));
            dots.MarkerSize = 3;
            // The legend gets its own, larger dots: the map's 3-pixel ones would be unreadable there.
            plot.Legend.ManualItems.Add(new LegendItem
            {
                LabelText = digit.ToString(),
                MarkerShape = MarkerShape.FilledCircle,
                MarkerSize = 12,
                MarkerFillColor = palette.GetColor(digit),
                MarkerLineColor = palette.GetColor(digit),
            });
            // The digit written at its cluster's centre, so the map reads without the legend.
            var label = plot.Add.Text(digit.ToString(), rows.Average(i => xs[i]), rows.Average(i => ys[i]));
            label.LabelFontSize = 22;
            label.LabelBold = true;
            label.LabelFontColor = Colors.Black;
            label.LabelBackgroundColor = Colors.White.WithAlpha(0.6);
            label.LabelAlignment = Alignment.MiddleCenter;
        }
        plot.Title($"Test images in latent space ({labels.Length:N0} mean codes{(latent > 2 ? $", PCA of {latent}-D" : "")})");
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(Edge.Right);
        ChartFile.SavePng(plot, path, 900, 750);
    }

    private static (float[] Xs, float[] Ys, string XLabel, string YLabel) Axes(Tensor codes, int latent)
    {
        if (latent > 2)
        {
            var pca = Pca.Fit(codes, 2);
            return (pca.Coordinates[0], pca.Coordinates[1],
                $"PC1 ({pca.ExplainedVariance[0] * 100:F0}% of variance)", $"PC2 ({pca.ExplainedVariance[1] * 100:F0}% of variance)");
        }
        using var values = codes.to_type(ScalarType.Float32).contiguous();
        var flat = values.data<float>().ToArray();
        int n = flat.Length / latent;
        var xs = Enumerable.Range(0, n).Select(i => flat[i * latent]).ToArray();
        var ys = latent == 2 ? Enumerable.Range(0, n).Select(i => flat[i * 2 + 1]).ToArray() : new float[n];
        return (xs, ys, "z1", latent == 2 ? "z2" : "(one-dimensional latent)");
    }
}
