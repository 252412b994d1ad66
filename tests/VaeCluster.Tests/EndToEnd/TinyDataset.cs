using VaeCluster.Data;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>
/// An MNIST-shaped data set a test writes for itself: a run on it loads its data and closes its epochs (test loss,
/// pictures) in a fraction of MNIST's time, so that tests which start many processes stay quick.
/// </summary>
public static class TinyDataset
{
    public const int TestImages = 64; // the run's pictures take 32 test images

    /// <summary>Random pixels, labels 0-9 in turn.</summary>
    public static string WriteRandom(string dir, int trainImages, int seed = 7)
    {
        var pixels = new byte[trainImages * IdxFile.ImagePixels];
        new Random(seed).NextBytes(pixels);
        return Write(dir, pixels, Enumerable.Range(0, trainImages).Select(i => (byte)(i % 10)).ToArray());
    }

    /// <summary>These training images and labels; the first <see cref="TestImages"/> of them are also the test set.</summary>
    public static string Write(string dir, byte[] trainPixels, byte[] trainLabels)
    {
        Directory.CreateDirectory(dir);
        IdxFile.WriteImages(Path.Combine(dir, MnistDataset.TrainImagesFile), trainPixels, trainLabels.Length);
        IdxFile.WriteLabels(Path.Combine(dir, MnistDataset.TrainLabelsFile), trainLabels);
        IdxFile.WriteImages(Path.Combine(dir, MnistDataset.TestImagesFile), trainPixels[..(TestImages * IdxFile.ImagePixels)], TestImages);
        IdxFile.WriteLabels(Path.Combine(dir, MnistDataset.TestLabelsFile), trainLabels[..TestImages]);
        return Path.GetFullPath(dir);
    }
}
