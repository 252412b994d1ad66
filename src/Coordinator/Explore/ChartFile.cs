using ScottPlot;

namespace VaeCluster.Coordinator.Explore;

/// <summary>Saves a chart as a PNG atomically, so a reader never sees half a picture.</summary>
public static class ChartFile
{
    public static void SavePng(Plot plot, string path, int width, int height)
    {
        var bytes = plot.GetImageBytes(width, height, ImageFormat.Png);
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        AtomicFile.Write(path, stream => stream.Write(bytes));
    }
}
