using VaeCluster.Coordinator.Quality;
using VaeCluster.Data;
using VaeCluster.Tests.EndToEnd;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Quality;

/// <summary>The judge is trained once, reused, and rebuilt when its cached file is damaged; on 3000 real digits to stay fast.</summary>
public sealed class ClassifierCacheTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("vae-judge-").FullName;
    private readonly MnistDataset data = MnistDataset.Load(TestData.MnistDir, trainLimit: 3000);
    private readonly List<string> said = [];

    [Fact]
    public void Should_train_once_then_reuse_the_cached_classifier_and_rebuild_a_corrupt_one()
    {
        var cache = new ClassifierCache(dir, said.Add);
        using var probe = data.Test.Images.narrow(0, 0, 200);

        var (first, accuracy) = cache.LoadOrTrain("k1", data.Train, data.Test);
        Assert.Contains("training one", said[0]);
        Assert.Contains("trained in", said[1]);
        Assert.True(File.Exists(cache.PathFor("k1")));
        Assert.True(accuracy > 0.5, $"a classifier trained on 3000 digits should beat chance by far, got {accuracy:P1}");
        var firstReading = first.Predict(probe);
        first.Dispose();

        var (second, cachedAccuracy) = cache.LoadOrTrain("k1", data.Train, data.Test);
        Assert.StartsWith("classifier: loaded", said[^1]);
        Assert.Equal(accuracy, cachedAccuracy);
        Assert.Equal(firstReading, second.Predict(probe));
        second.Dispose();

        var bytes = File.ReadAllBytes(cache.PathFor("k1"));
        File.WriteAllBytes(cache.PathFor("k1"), bytes[..(bytes.Length / 2)]);
        var (rebuilt, _) = cache.LoadOrTrain("k1", data.Train, data.Test);
        Assert.Contains("is unusable", said[^2]);
        Assert.Contains("training a new one", said[^2]);
        Assert.Equal(firstReading, rebuilt.Predict(probe)); // same recipe and seed: the same classifier again
        rebuilt.Dispose();
        Assert.Equal(3, said.Count(s => s.Contains("trained in") || s.Contains("loaded")));
    }

    [Fact]
    public void Should_key_the_cache_by_the_training_files_and_the_image_count()
    {
        Assert.Equal(ClassifierCache.KeyFor(TestData.MnistDir, 3000), ClassifierCache.KeyFor(TestData.MnistDir, 3000));
        Assert.NotEqual(ClassifierCache.KeyFor(TestData.MnistDir, 3000), ClassifierCache.KeyFor(TestData.MnistDir, 60000));
    }

    public void Dispose()
    {
        data.Dispose();
        Directory.Delete(dir, recursive: true);
    }
}
