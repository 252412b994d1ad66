using System.Globalization;
using System.Security.Cryptography;
using VaeCluster.Checkpoints;
using VaeCluster.Data;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Quality;

/// <summary>
/// The judge is trained once and kept as DIR/mnist-cnn-KEY.safetensors, KEY being a hash of the recipe and the
/// training files, so other data or another recipe gets its own file. A missing or unusable file is rebuilt, and
/// <c>say</c> tells which happened. Default DIR: data/classifier (git-ignored), or $VAE_CLASSIFIER_DIR.
/// </summary>
public sealed class ClassifierCache(string directory, Action<string> say)
{
    public const int Epochs = 2;

    public static string DefaultDirectory =>
        Environment.GetEnvironmentVariable("VAE_CLASSIFIER_DIR") is { Length: > 0 } dir ? dir : Path.Combine("data", "classifier");

    public string PathFor(string key) => Path.Combine(directory, $"mnist-cnn-{key}.safetensors");

    /// <summary>A hash of the recipe, the training files' bytes and how many images are used.</summary>
    public static string KeyFor(string dataDir, int trainCount)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(System.Text.Encoding.UTF8.GetBytes($"{ClassifierTraining.Recipe}/epochs{Epochs}/n{trainCount}"));
        foreach (var name in new[] { MnistDataset.TrainImagesFile, MnistDataset.TrainLabelsFile })
        {
            var raw = Path.Combine(dataDir, name);
            using var file = File.OpenRead(File.Exists(raw) ? raw : raw + ".gz");
            sha.AppendData(SHA256.HashData(file));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }

    /// <summary>The cached classifier for <paramref name="key"/>, or a new one trained on <paramref name="train"/> and cached.</summary>
    public (DigitClassifier Classifier, double TestAccuracy) LoadOrTrain(string key, MnistSplit train, MnistSplit test)
    {
        var path = PathFor(key);
        if (File.Exists(path))
        {
            try
            {
                return Load(path);
            }
            catch (Exception e) when (e is CheckpointError or InvalidDataException or FormatException or KeyNotFoundException)
            {
                say($"classifier: cached {path} is unusable ({e.Message}); training a new one");
            }
        }
        else
        {
            say($"classifier: none cached for these data files ({path}); training one on {train.Count} images");
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var classifier = ClassifierTraining.Train(train, Epochs);
        double accuracy = ClassifierTraining.Accuracy(classifier, test);
        Directory.CreateDirectory(directory);
        SafeTensorsFile.Write(path, classifier.NamedParameters(), new Dictionary<string, string>
        {
            ["format"] = "vaecluster-classifier/1",
            ["recipe"] = ClassifierTraining.Recipe,
            ["test_accuracy"] = accuracy.ToString("R", CultureInfo.InvariantCulture),
        });
        say($"classifier: trained in {clock.Elapsed.TotalSeconds:F0} s, {100 * accuracy:F2}% right on the MNIST test set; cached at {path}");
        return (classifier, accuracy);
    }

    private (DigitClassifier, double) Load(string path)
    {
        var content = SafeTensorsFile.Read(path);
        if (content.Metadata.GetValueOrDefault("recipe") != ClassifierTraining.Recipe)
            throw new InvalidDataException("written by another recipe");
        double accuracy = double.Parse(content.Metadata["test_accuracy"], CultureInfo.InvariantCulture);
        var classifier = new DigitClassifier();
        try
        {
            using var _ = no_grad();
            var saved = content.Tensors.ToDictionary(t => t.Name, t => t);
            foreach (var (name, parameter) in classifier.NamedParameters())
            {
                if (!saved.TryGetValue(name, out var value)) throw new InvalidDataException($"parameter {name} is missing");
                if (!value.Shape.SequenceEqual(parameter.shape)) throw new InvalidDataException($"parameter {name} has the wrong shape");
                using var loaded = content.ToTensor(name);
                parameter.copy_(loaded);
            }
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
        classifier.eval();
        say($"classifier: loaded {path} ({100 * accuracy:F2}% right on the MNIST test set)");
        return (classifier, accuracy);
    }
}
