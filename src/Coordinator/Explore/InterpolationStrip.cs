using VaeCluster.Imaging;
using VaeCluster.Model;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Explore;

/// <summary>
/// A walk through the latent space from one digit to another: the straight line between the two digits' mean
/// codes, decoded at evenly spaced points. Both ends are the model's typical picture of their digit.
/// </summary>
public static class InterpolationStrip
{
    /// <param name="codes">the test set's mean codes [n, latent], from <see cref="LatentCodes.Means"/></param>
    public static void Draw(IVae model, Tensor codes, byte[] labels, int from, int to, int steps, string path)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var start = LatentCodes.MeanOfDigit(codes, labels, from);
        var end = LatentCodes.MeanOfDigit(codes, labels, to);
        var t = linspace(0, 1, steps).unsqueeze(1);
        var z = start.unsqueeze(0) * (1 - t) + end.unsqueeze(0) * t;
        var digits = model.Decode(z);
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        DigitGrid.SavePng(path, digits.data<float>().ToArray(), columns: steps, scale: 3);
    }
}
