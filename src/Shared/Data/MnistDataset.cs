using TorchSharp;
using static TorchSharp.torch;

namespace VaeCluster.Data;

/// <summary>
/// The MNIST training and test sets, loaded from the four IDX files of the original distribution
/// (raw or gzipped) and held in memory as tensors; the whole set is about 220 MB as float32.
/// </summary>
public sealed class MnistDataset : IDisposable
{
    public const string TrainImagesFile = "train-images-idx3-ubyte";
    public const string TrainLabelsFile = "train-labels-idx1-ubyte";
    public const string TestImagesFile = "t10k-images-idx3-ubyte";
    public const string TestLabelsFile = "t10k-labels-idx1-ubyte";

    public MnistSplit Train { get; }

    public MnistSplit Test { get; }

    private MnistDataset(MnistSplit train, MnistSplit test)
    {
        Train = train;
        Test = test;
    }

    /// <param name="dir">A folder with the four MNIST IDX files, each raw or with a ".gz" suffix.</param>
    /// <param name="trainLimit">Keep only the first N training samples, so quick runs and tests load fast.</param>
    public static MnistDataset Load(string dir, int? trainLimit = null)
    {
        if (trainLimit is { } limit)
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit, nameof(trainLimit));
        if (!Directory.Exists(dir))
            throw new DataError(dir,
                "data directory not found; run ./vae train without --data to fetch MNIST, or point --data at a folder with the four MNIST IDX files");

        // Check that all four files exist before parsing any, so a partial download is reported at once
        // rather than after a 47 MB read.
        string trainImages = Locate(dir, TrainImagesFile);
        string trainLabels = Locate(dir, TrainLabelsFile);
        string testImages = Locate(dir, TestImagesFile);
        string testLabels = Locate(dir, TestLabelsFile);

        var train = ReadSplit(trainImages, trainLabels, trainLimit);
        try
        {
            return new MnistDataset(train, ReadSplit(testImages, testLabels, limit: null));
        }
        catch
        {
            train.Images.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Train.Images.Dispose();
        Test.Images.Dispose();
    }

    private static string Locate(string dir, string name)
    {
        string raw = Path.Combine(dir, name);
        if (File.Exists(raw))
            return raw;
        string gzipped = raw + ".gz";
        if (File.Exists(gzipped))
            return gzipped;
        throw new DataError(raw, $"file not found; expected {name} or {name}.gz in {dir}");
    }

    private static MnistSplit ReadSplit(string imagesPath, string labelsPath, int? limit)
    {
        var images = IdxFile.ReadImages(imagesPath);
        var labels = IdxFile.ReadLabels(labelsPath);
        if (images.Count != labels.Count)
            throw new DataError(labelsPath,
                $"labels do not match images: {images.Count} images in {Path.GetFileName(imagesPath)} but {labels.Count} labels in {Path.GetFileName(labelsPath)}");

        int n = Math.Min(limit ?? images.Count, images.Count);
        return new MnistSplit(ToTensor(images.Data, n), labels.Data[..n], DataDigest.Of(images, labels));
    }

    private static Tensor ToTensor(byte[] pixels, int n)
    {
        // Only the kept rows are copied into the byte tensor; the float conversion then happens in native code.
        var kept = n * IdxFile.ImagePixels == pixels.Length ? pixels : pixels[..(n * IdxFile.ImagePixels)];
        using var bytes = tensor(kept, new long[] { n, IdxFile.ImagePixels });
        var scaled = bytes.to_type(ScalarType.Float32).div_(255);
        // The dataset outlives any dispose scope the caller happens to be in; it is freed by Dispose instead.
        return scaled.DetachFromDisposeScope();
    }
}
