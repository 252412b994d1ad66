using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using VaeCluster.Coordinator.Quality;
using VaeCluster.Coordinator.Run;
using VaeCluster.Coordinator.Training;
using VaeCluster.Data;
using VaeCluster.Model;
using VaeCluster.Training;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Cli;

/// <summary>
/// ./vae evaluate: the run's test-set ELBO and, for a mixture model, the share of generated digits that our own
/// classifier reads as the digit asked for and how varied they are (<see cref="DiversityReport"/>), per digit.
/// The figures are printed and appended to RUN_DIR/metrics.jsonl.
/// </summary>
public static class EvaluateCommand
{
    private static readonly Option<string> Run = new("--run") { Description = "Run directory (default runs/latest).", DefaultValueFactory = _ => Path.Combine("runs", "latest") };
    private static readonly Option<int?> PerDigit = NumberOption.Whole("--per-digit", "Digits generated for each of 0-9 (default 100, at most 1000).", 1);
    private static readonly Option<long?> Seed = NumberOption.Long("--seed", "Seed for the draws (default 1; generate --seed S --count 10*N --digit 0,...,9 draws the same digits).");
    private static readonly Option<string?> Data = new("--data") { Description = $"Folder with the four MNIST IDX files (default {new TrainingOptions().DataDir})." };
    // Tests train the judge on a few images so that they stay fast; such a classifier is cached under its own key.
    private static readonly Option<int?> ClassifierTrainLimit = NumberOption.Whole("--classifier-train-limit", "Train the classifier on the first N images (tests).", 1);

    public static Command Create()
    {
        ClassifierTrainLimit.Hidden = true;
        var command = new Command("evaluate", "Score a trained run: test-set ELBO, and per-digit recognition and diversity of generated digits (mixture models).")
        {
            Run, PerDigit, Seed, Data, ClassifierTrainLimit,
        };
        command.SetAction((result, _) => UserError.Report(() =>
        {
            var run = RunArgument.Existing(result.GetValue(Run));
            // The figures are appended to the run's metrics: a run that cannot take them is refused before the work.
            if (WritablePath.ForFile(run.Metrics) is { } unwritable) throw new UserError($"{run.Metrics}: {unwritable}");
            using var owner = RunDirectoryLock.Take(run, "./vae evaluate", "wait for it to end");
            int perDigit = result.GetValue(PerDigit) ?? 100;
            if (perDigit > 1000) throw new UserError("--per-digit must be at most 1000");
            long seed = result.GetValue(Seed) ?? 1;
            var dataDir = result.GetValue(Data) ?? new TrainingOptions().DataDir;

            using var trained = TrainedModel.Load(run, message => new UserError(message));
            using var data = MnistDataset.Load(dataDir, result.GetValue(ClassifierTrainLimit));
            set_num_threads(Environment.ProcessorCount);
            var line = new JsonObject
            {
                ["event"] = "evaluate",
                ["epoch"] = trained.Epochs,
                ["step"] = trained.Step,
                ["model"] = ModelKindName.Of(trained.Model.Shape.Kind),
            };

            double testLoss = Math.Round(Evaluator.TestLoss(trained.Model, data.Test, trained.Options.Seed), 4);
            double elbo = -Math.Round(Evaluator.TestUnconditionalLoss(trained.Model, data.Test, trained.Options.Seed), 4);
            Console.WriteLine($"{run.Root}: {ModelKindName.Of(trained.Model.Shape.Kind)} model after {trained.Epochs} epochs ({trained.Step} steps)");
            Console.WriteLine($"test-set ELBO of log p(x): {elbo:F2} nats/image (no labels; compares across models)");
            Console.WriteLine($"test loss (the training objective): {testLoss:F2} nats/image");
            line["test_elbo"] = elbo;
            line["test_loss"] = testLoss;

            if (trained.Model.Shape.Kind == ModelKind.Vae)
            {
                Console.WriteLine("per-digit recognition: not measured, the reference VAE is unconditional (train one with --model mixture)");
            }
            else
            {
                var cache = new ClassifierCache(ClassifierCache.DefaultDirectory, Console.WriteLine);
                var (classifier, accuracy) = cache.LoadOrTrain(ClassifierCache.KeyFor(dataDir, data.Train.Count), data.Train, data.Test);
                using (classifier)
                {
                    var (images, asked) = Draw(trained.Model, perDigit, seed);
                    using (images)
                    {
                        var report = RecognitionReport.Of(asked, classifier.Predict(images));
                        Console.WriteLine($"recognised as the digit asked for ({perDigit} per digit, seed {seed}; our classifier reads {100 * accuracy:F2}% of the MNIST test set right):");
                        Console.WriteLine(report.Table());
                        line["recognised"] = Math.Round(report.Share, 4);
                        line["recognised_by_digit"] = JsonSerializer.SerializeToNode(report.ShareByDigit);
                        var diversity = DiversityReport.Of(images, asked, data.Test);
                        Console.WriteLine("diversity (mean distance between two generated digits of a class / the same for real test digits; 1.0 = as varied):");
                        Console.WriteLine(diversity.Table());
                        line["diversity_by_digit"] = JsonSerializer.SerializeToNode(diversity.RatioByDigit);
                        line["diversity_worst"] = Math.Round(diversity.Worst, 4);
                    }
                    line["per_digit"] = perDigit;
                    line["seed"] = seed;
                    line["classifier_test_accuracy"] = Math.Round(accuracy, 4);
                }
            }
            new MetricsLog(run.Metrics).AppendLine(line.ToJsonString());
            Console.WriteLine($"appended to {run.Metrics}");
            return Task.FromResult(0);
        }));
        return command;
    }

    /// <summary>Draws exactly what generate --digit 0,...,9 --count 10*perDigit --seed S writes, quantised to bytes like its IDX file.</summary>
    private static (Tensor Images, byte[] Asked) Draw(IVae model, int perDigit, long seed)
    {
        var drawn = DigitSampler.Draw(model, Enumerable.Range(0, 10).ToList(), perDigit * 10, seed);
        var bytes = GenerateCommand.ToBytes(drawn.Pixels);
        return (tensor(bytes.Select(b => b / 255f).ToArray(), new long[] { drawn.Count, Vae.ImagePixels }), drawn.Labels!);
    }
}
