using System.CommandLine;
using VaeCluster.Coordinator.Run;
using VaeCluster.Data;
using VaeCluster.Model;

namespace VaeCluster.Coordinator.Cli;

/// <summary>./vae generate: draws new digits from a trained run's model, optionally digits asked for by name.</summary>
public static class GenerateCommand
{
    private const int MaxCount = 10_000;

    private static readonly Option<string> Run = new("--run") { Description = "Run directory (default runs/latest).", DefaultValueFactory = _ => Path.Combine("runs", "latest") };
    private static readonly Option<int?> Count = NumberOption.Whole("--count", $"How many digits to draw in total (default 64, at most {MaxCount}); spread evenly over --digit, the first digits listed getting one more when it does not divide.", 1);
    private static readonly Option<string?> Digit = new("--digit") { Description = "Digit(s) to draw, e.g. 7 or 0,1,2 (mixture models only; default: draw from the whole prior)." };
    private static readonly Option<string?> Out = new("--out") { Description = "PNG file to write (default RUN_DIR/generated.png)." };
    private static readonly Option<string?> Idx = new("--idx") { Description = "Also write PREFIX-images-idx3-ubyte (pixels 0-255) and PREFIX-labels-idx1-ubyte (the digits asked for)." };
    private static readonly Option<long?> Seed = NumberOption.Long("--seed", "Seed for the draws (default: a new one each time).");

    public static Command Create()
    {
        var command = new Command("generate", "Draw new digits from a trained model into a PNG grid (and IDX files).") { Run, Count, Digit, Out, Idx, Seed };
        command.SetAction((result, _) => UserError.Report(() =>
        {
            var run = RunArgument.Existing(result.GetValue(Run));
            var output = result.GetValue(Out) ?? Path.Combine(run.Root, "generated.png");
            var idx = result.GetValue(Idx);
            var digits = result.GetValue(Digit) is string text ? DigitList.Parse(text) : null;
            int count = result.GetValue(Count) ?? 64;
            if (count > MaxCount) throw new UserError($"--count must be at most {MaxCount}");
            if (digits is not null && count < digits.Count)
                throw new UserError($"--count ({count}) must be at least the number of digits asked for ({digits.Count})");
            // Every destination is checked before anything is drawn, so a bad one leaves no file half-written behind.
            RequireFolder("--out", output);
            if (idx is not null) RequireFolder("--idx", idx);
            // Digits drawn into the run directory make this command one of its writers: it must own it.
            using var owner = run.Contains(output) || (idx is not null && run.Contains(idx))
                ? RunDirectoryLock.Take(run, "./vae generate", "wait for it to end, or write the digits elsewhere with --out")
                : null;

            using var trained = TrainedModel.Load(run, message => new UserError(message));
            if (trained.Model.Shape.Kind == ModelKind.Vae && digits is not null)
                throw new UserError($"{run.Root} holds the reference VAE, which is unconditional and cannot draw a chosen digit; train a mixture model with ./vae train --model mixture");
            if (trained.Model.Shape.Kind == ModelKind.Vae && idx is not null)
                throw new UserError($"--idx writes the digits asked for as labels, and {run.Root} holds the unconditional reference VAE; train one with ./vae train --model mixture");

            var drawn = DigitSampler.Draw(trained.Model, digits, count, result.GetValue(Seed) ?? Random.Shared.NextInt64());
            if (idx is not null)
            {
                IdxFile.WriteImages(ImagesPath(idx), ToBytes(drawn.Pixels), count);
                IdxFile.WriteLabels(LabelsPath(idx), drawn.Labels!);
            }
            RunPictures.Grid(drawn, output);
            Console.WriteLine($"wrote {count} digits to {output}" + (idx is null ? "" : $", {ImagesPath(idx)} and {LabelsPath(idx)}"));
            return Task.FromResult(0);
        }));
        return command;
    }

    public static string ImagesPath(string prefix) => prefix + "-images-idx3-ubyte";

    public static string LabelsPath(string prefix) => prefix + "-labels-idx1-ubyte";

    /// <summary>Pixels in [0, 1] as the 0-255 bytes of MNIST's own files.</summary>
    public static byte[] ToBytes(float[] pixels) =>
        pixels.Select(v => (byte)Math.Clamp(MathF.Round(v * 255f), 0f, 255f)).ToArray();

    private static void RequireFolder(string flag, string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UserError($"{flag} needs a file name");
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full) || path.EndsWith('/'))
            throw new UserError($"{flag} {path}: names a folder; give a file name{(flag == "--idx" ? " prefix" : "")}");
        var folder = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder)) throw new UserError($"{flag} {path}: folder {folder} does not exist");
        if (WritablePath.ForFolder(folder) is { } problem) throw new UserError($"{flag} {path}: {problem}");
    }
}
