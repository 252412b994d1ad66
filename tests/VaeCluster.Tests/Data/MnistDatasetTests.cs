using VaeCluster.Data;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Data;

public sealed class MnistDatasetTests : IDisposable
{
    private const string NotFound = "data directory not found; run ./vae train without --data to fetch MNIST";
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    /// <summary>A tiny MNIST: 5 training and 2 test images; training image 0 has a white (255) first pixel.</summary>
    private void WriteDataset(string suffix = "", int trainLabels = 5)
    {
        var train = TempDir.Pixels(5);
        train[0] = 255;
        IdxFile.WriteImages(dir.File(MnistDataset.TrainImagesFile + suffix), train, 5);
        IdxFile.WriteLabels(dir.File(MnistDataset.TrainLabelsFile + suffix),
            Enumerable.Range(0, trainLabels).Select(i => (byte)i).ToArray());
        IdxFile.WriteImages(dir.File(MnistDataset.TestImagesFile + suffix), TempDir.Pixels(2), 2);
        IdxFile.WriteLabels(dir.File(MnistDataset.TestLabelsFile + suffix), [8, 9]);
    }

    [Fact]
    public void Should_load_images_as_float_rows_scaled_to_unit_range()
    {
        WriteDataset();

        using var data = MnistDataset.Load(dir.Path);

        Assert.Equal(new long[] { 5, 784 }, data.Train.Images.shape);
        Assert.Equal(new long[] { 2, 784 }, data.Test.Images.shape);
        Assert.Equal(ScalarType.Float32, data.Train.Images.dtype);
        Assert.Equal(5, data.Train.Count);
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4 }, data.Train.Labels);
        Assert.Equal(new byte[] { 8, 9 }, data.Test.Labels);

        Assert.Equal(1.0f, data.Train.Images[0, 0].item<float>());
        Assert.Equal(0.0f, data.Train.Images.min().item<float>());
        Assert.Equal(1.0f, data.Train.Images.max().item<float>());
        // Pixel 3 of image 2 is 2*7+3 = 17 in the fixture; checks row order and the /255 scaling together.
        Assert.Equal(17 / 255f, data.Train.Images[2, 3].item<float>(), precision: 6);
    }

    [Fact]
    public void Should_load_gzipped_files()
    {
        WriteDataset(".gz");

        using var data = MnistDataset.Load(dir.Path);

        Assert.Equal(new long[] { 5, 784 }, data.Train.Images.shape);
        Assert.Equal(new byte[] { 8, 9 }, data.Test.Labels);
    }

    [Fact]
    public void Should_keep_only_the_first_training_samples_when_limited()
    {
        WriteDataset();

        using var data = MnistDataset.Load(dir.Path, trainLimit: 3);

        Assert.Equal(new long[] { 3, 784 }, data.Train.Images.shape);
        Assert.Equal(new byte[] { 0, 1, 2 }, data.Train.Labels);
        Assert.Equal(17 / 255f, data.Train.Images[2, 3].item<float>(), precision: 6);
        // The limit is for training only; evaluation still sees the whole test set.
        Assert.Equal(2, data.Test.Count);
    }

    [Fact]
    public void Should_keep_everything_when_the_limit_exceeds_the_training_set()
    {
        WriteDataset();

        using var data = MnistDataset.Load(dir.Path, trainLimit: 1000);

        Assert.Equal(5, data.Train.Count);
        Assert.Equal(5, data.Train.Images.shape[0]);
    }

    [Fact]
    public void Should_reject_labels_that_do_not_match_images()
    {
        WriteDataset(trainLabels: 4);

        DataErrorAssert.Throws(dir.File(MnistDataset.TrainLabelsFile),
            "labels do not match images: 5 images in train-images-idx3-ubyte but 4 labels in train-labels-idx1-ubyte",
            () => MnistDataset.Load(dir.Path));
    }

    [Fact]
    public void Should_reject_missing_directory()
    {
        string missing = dir.File("no-such-folder");
        DataErrorAssert.Throws(missing, NotFound, () => MnistDataset.Load(missing));
    }

    [Fact]
    public void Should_reject_missing_file_naming_it()
    {
        WriteDataset();
        File.Delete(dir.File(MnistDataset.TestLabelsFile));

        DataErrorAssert.Throws(dir.File(MnistDataset.TestLabelsFile),
            "file not found; expected t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz",
            () => MnistDataset.Load(dir.Path));
    }

    [Fact]
    public void Should_report_a_corrupt_file_by_its_own_path()
    {
        WriteDataset();
        string images = dir.File(MnistDataset.TestImagesFile);
        File.WriteAllBytes(images, []);

        DataErrorAssert.Throws(images, "empty file", () => MnistDataset.Load(dir.Path));
    }
}
