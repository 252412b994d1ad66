using System.Text.Json;
using ScottPlot;
using VaeCluster.Coordinator.Run;

namespace VaeCluster.Coordinator.Explore;

/// <summary>A run's train and test loss per epoch, read from RUN_DIR/metrics.jsonl and drawn as a chart.</summary>
public static class LossCurves
{
    public sealed record EpochLoss(int Epoch, double TrainLoss, double TestLoss);

    /// <summary>
    /// The epoch lines of a metrics file, in file order. Lines with an "event" field record something other than
    /// an epoch (other tools may add them) and are skipped.
    /// </summary>
    public static IReadOnlyList<EpochLoss> Read(string metricsPath)
    {
        if (!File.Exists(metricsPath)) throw new RunFileError(metricsPath, "no metrics yet; they appear when the run's first epoch ends");
        var epochs = new List<EpochLoss>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(metricsPath))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                if (root.TryGetProperty("event", out var kind) && kind.ValueKind != JsonValueKind.Null) continue;
                epochs.Add(new EpochLoss(root.GetProperty("epoch").GetInt32(),
                    root.GetProperty("train_loss").GetDouble(), root.GetProperty("test_loss").GetDouble()));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new RunFileError(metricsPath, $"line {lineNumber} is not an epoch record ({e.Message})");
            }
        }
        if (epochs.Count == 0) throw new RunFileError(metricsPath, "no epoch recorded yet; they appear as epochs end");
        return epochs;
    }

    public static void Draw(IReadOnlyList<EpochLoss> epochs, string path)
    {
        var plot = new Plot();
        double[] x = epochs.Select(e => (double)e.Epoch).ToArray();
        var train = plot.Add.Scatter(x, epochs.Select(e => e.TrainLoss).ToArray());
        train.LegendText = "train (mean over the epoch's batches)";
        train.LineWidth = 2;
        train.MarkerSize = 7;
        var test = plot.Add.Scatter(x, epochs.Select(e => e.TestLoss).ToArray());
        test.LegendText = "test (10,000 images, after the epoch)";
        test.LineWidth = 2;
        test.MarkerSize = 7;
        test.LinePattern = LinePattern.Dashed;

        plot.Title("Loss per epoch");
        plot.XLabel("epoch");
        plot.YLabel("loss (nats per image)");
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.ShowLegend(Alignment.UpperRight);
        ChartFile.SavePng(plot, path, 800, 500);
    }
}
