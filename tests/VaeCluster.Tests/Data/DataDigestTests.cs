using VaeCluster.Data;
using Xunit;

namespace VaeCluster.Tests.Data;

/// <summary>The training data's digest, which cluster nodes compare: same data, same digest; other data, another.</summary>
public sealed class DataDigestTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private string Load(string name, byte[] pixels, byte[] labels, string suffix = "", int? trainLimit = null)
    {
        string folder = Directory.CreateDirectory(dir.File(name)).FullName;
        IdxFile.WriteImages(Path.Combine(folder, MnistDataset.TrainImagesFile + suffix), pixels, labels.Length);
        IdxFile.WriteLabels(Path.Combine(folder, MnistDataset.TrainLabelsFile + suffix), labels);
        IdxFile.WriteImages(Path.Combine(folder, MnistDataset.TestImagesFile + suffix), TempDir.Pixels(1), 1);
        IdxFile.WriteLabels(Path.Combine(folder, MnistDataset.TestLabelsFile + suffix), [0]);
        using var data = MnistDataset.Load(folder, trainLimit);
        return data.Train.Sha256;
    }

    [Fact]
    public void The_digest_follows_the_contents_not_the_file_form_or_the_train_limit()
    {
        var pixels = TempDir.Pixels(4);
        byte[] labels = [1, 2, 3, 4];
        string digest = Load("raw", pixels, labels);
        Assert.Matches("^[0-9a-f]{64}$", digest);
        Assert.Equal(digest, Load("gzipped", pixels, labels, suffix: ".gz"));
        Assert.Equal(digest, Load("limited", pixels, labels, trainLimit: 2)); // a --train-limit run checks against full-set workers

        var reversed = Enumerable.Range(0, 4).Reverse().SelectMany(i => pixels.Skip(i * IdxFile.ImagePixels).Take(IdxFile.ImagePixels)).ToArray();
        Assert.NotEqual(digest, Load("reversed", reversed, [4, 3, 2, 1]));
        Assert.NotEqual(digest, Load("relabelled", pixels, [1, 2, 3, 5]));
    }
}
