using VaeCluster.Data;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Quality;

/// <summary>How the judge is trained: Adam 1e-3, batch 128, a fixed seed, on the MNIST training split.</summary>
public static class ClassifierTraining
{
    /// <summary>Changes whenever the recipe below does, so a cached classifier of another recipe is not reused.</summary>
    public const string Recipe = "cnn8-16-fc64/adam1e-3/batch128/seed0/v1";

    public static DigitClassifier Train(MnistSplit train, int epochs)
    {
        manual_seed(0);
        var classifier = new DigitClassifier();
        using var labels = tensor(train.Labels.Select(l => (long)l).ToArray());
        using var optimizer = optim.Adam(classifier.parameters(), lr: 1e-3);
        using var generator = new Generator(0);
        classifier.train();
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            using var order = randperm(train.Count, generator: generator);
            for (long start = 0; start < train.Count; start += 128)
            {
                using var scope = NewDisposeScope();
                var batch = order.narrow(0, start, Math.Min(128, train.Count - start));
                optimizer.zero_grad();
                var loss = nn.functional.cross_entropy(classifier.forward(train.Images.index_select(0, batch)), labels.index_select(0, batch));
                loss.backward();
                optimizer.step();
            }
        }
        classifier.eval();
        return classifier;
    }

    /// <summary>Share of <paramref name="split"/> read right.</summary>
    public static double Accuracy(DigitClassifier classifier, MnistSplit split)
    {
        var predicted = classifier.Predict(split.Images);
        return predicted.Zip(split.Labels).Count(p => p.First == p.Second) / (double)split.Count;
    }
}
