using System.CommandLine;
using VaeCluster.Coordinator.Explore;
using VaeCluster.Coordinator.Run;
using VaeCluster.Data;
using VaeCluster.Training;

namespace VaeCluster.Coordinator.Cli;

/// <summary>./vae explore: pictures that look inside a run (interpolation strip, latent map, loss curves).</summary>
public static class ExploreCommand
{
    public static Command Create() => new("explore", "Look at a run: pictures of its latent space and its loss curves (PNG).")
    {
        Interpolate(), Latent(), Curves(),
    };

    private static Option<string> RunOption() =>
        new("--run") { Description = "Run directory (default runs/latest).", DefaultValueFactory = _ => Path.Combine("runs", "latest") };

    private static Option<string?> OutOption(string fallback) =>
        new("--out") { Description = $"PNG file to write (default RUN_DIR/explore/{fallback})." };

    private static Option<string?> DataOption() =>
        new("--data") { Description = $"Folder with the MNIST IDX files, for the test images (default {new TrainingOptions().DataDir})." };

    private static Command Interpolate()
    {
        var run = RunOption();
        var from = Digit("--from", "Digit to start from (0-9).");
        var to = Digit("--to", "Digit to end at (0-9).");
        var steps = NumberOption.Whole("--steps", "Pictures along the way, both ends included (default 10, at most 50).", 2);
        var out_ = OutOption("interpolate-FROM-TO.png");
        var data = DataOption();
        var command = new Command("interpolate",
            "Decode points on the straight line between two digits' mean latent codes (over the test set) into a strip of pictures.")
        { run, from, to, steps, out_, data };
        command.SetAction((result, _) => UserError.Report(() =>
        {
            int a = CheckDigit("--from", result.GetValue(from)), b = CheckDigit("--to", result.GetValue(to));
            int count = result.GetValue(steps) ?? 10;
            if (count > 50) throw new UserError("--steps must be at most 50");
            if (a == b) throw new UserError($"--from and --to are both {a}: the strip would show one digit {count} times; give two different digits");
            var dir = RunArgument.Existing(result.GetValue(run));
            var output = Output(result.GetValue(out_), dir, $"interpolate-{a}-{b}.png");
            using var owner = OwnIfWritingIn(dir, output);
            using var trained = TrainedModel.Load(dir, message => new UserError(message));
            var model = trained.Model;
            using var test = TestSet(result.GetValue(data));
            using var codes = LatentCodes.Means(model, test.Test.Images);
            InterpolationStrip.Draw(model, codes, test.Test.Labels, a, b, count, output);
            Console.WriteLine($"wrote {count} steps from {a} to {b} to {output}");
            return Task.FromResult(0);
        }));
        return command;
    }

    private static Command Latent()
    {
        var run = RunOption();
        var out_ = OutOption("latent.png");
        var data = DataOption();
        var command = new Command("latent",
            "Map the 10,000 test images' mean latent codes in 2-D (PCA when the latent has more dimensions), coloured by digit.")
        { run, out_, data };
        command.SetAction((result, _) => UserError.Report(() =>
        {
            var dir = RunArgument.Existing(result.GetValue(run));
            var output = Output(result.GetValue(out_), dir, "latent.png");
            using var owner = OwnIfWritingIn(dir, output);
            using var trained = TrainedModel.Load(dir, message => new UserError(message));
            var model = trained.Model;
            using var test = TestSet(result.GetValue(data));
            using var codes = LatentCodes.Means(model, test.Test.Images);
            LatentMap.Draw(codes, test.Test.Labels, output);
            Console.WriteLine($"wrote the latent map of {test.Test.Count} test images to {output}");
            return Task.FromResult(0);
        }));
        return command;
    }

    private static Command Curves()
    {
        var run = RunOption();
        var out_ = OutOption("curves.png");
        var command = new Command("curves", "Chart the run's train and test loss per epoch (from RUN_DIR/metrics.jsonl).") { run, out_ };
        command.SetAction((result, _) => UserError.Report(() =>
        {
            var dir = RunArgument.Existing(result.GetValue(run));
            var output = Output(result.GetValue(out_), dir, "curves.png");
            using var owner = OwnIfWritingIn(dir, output);
            var epochs = LossCurves.Read(dir.Metrics);
            LossCurves.Draw(epochs, output);
            Console.WriteLine($"wrote the loss curves of {epochs.Count} epochs to {output}");
            return Task.FromResult(0);
        }));
        return command;
    }

    private static Option<int?> Digit(string name, string description)
    {
        var option = NumberOption.Whole(name, description, 0);
        option.Required = true;
        return option;
    }

    private static int CheckDigit(string name, int? value) =>
        value is >= 0 and <= 9 ? value.Value : throw new UserError($"{name} must be a digit from 0 to 9, got {value}");

    /// <summary>Where the picture goes (--out, or RUN_DIR/explore/NAME), checked before anything is computed.</summary>
    private static string Output(string? given, RunDirectory run, string name)
    {
        if (given is not null && string.IsNullOrWhiteSpace(given)) throw new UserError("--out needs a file name");
        var path = given ?? Path.Combine(run.Root, "explore", name);
        return WritablePath.ForFile(path) is { } problem ? throw new UserError($"--out {path}: {problem}") : path;
    }

    /// <summary>A picture written into the run directory makes this command one of its writers: it must own it.</summary>
    private static RunDirectoryLock? OwnIfWritingIn(RunDirectory run, string output) =>
        run.Contains(output) ? RunDirectoryLock.Take(run, "./vae explore", "wait for it to end, or write the picture elsewhere with --out") : null;

    /// <summary>MNIST with a one-image training split: only the test images and their labels are wanted here.</summary>
    private static MnistDataset TestSet(string? dataDir) => MnistDataset.Load(dataDir ?? new TrainingOptions().DataDir, trainLimit: 1);
}
