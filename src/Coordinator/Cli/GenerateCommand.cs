using System.CommandLine;
using VaeCluster.Checkpoints;
using VaeCluster.Coordinator.Run;
using VaeCluster.Model;
using VaeCluster.Training;

namespace VaeCluster.Coordinator.Cli;

/// <summary>./vae generate: draws new digits from a trained run's model.</summary>
public static class GenerateCommand
{
    private static readonly Option<string> Run = new("--run") { Description = "Run directory (default runs/latest).", DefaultValueFactory = _ => Path.Combine("runs", "latest") };
    private static readonly Option<int?> Count = NumberOption.Whole("--count", "How many digits to draw (default 64).", 1);
    private static readonly Option<string?> Out = new("--out") { Description = "PNG file to write (default RUN_DIR/generated.png)." };
    private static readonly Option<long?> Seed = NumberOption.Long("--seed", "Seed for the latent draws (default: a new one each time).");

    public static Command Create()
    {
        var command = new Command("generate", "Draw new digits from a trained model into a PNG grid.") { Run, Count, Out, Seed };
        command.SetAction((result, _) => UserError.Report(() =>
        {
            var run = new RunDirectory(result.GetValue(Run)!);
            var output = result.GetValue(Out) ?? Path.Combine(run.Root, "generated.png");
            int count = result.GetValue(Count) ?? 64;
            if (count > 10_000) throw new UserError("--count must be at most 10000");
            using var model = LoadModel(run);
            RunPictures.Samples(model, output, count, result.GetValue(Seed) ?? Random.Shared.NextInt64());
            Console.WriteLine($"wrote {count} digits to {output}");
            return Task.FromResult(0);
        }));
        return command;
    }

    /// <summary>The exported model if training finished, else the newest good checkpoint of a run in progress.</summary>
    internal static Vae LoadModel(RunDirectory run)
    {
        if (!Directory.Exists(run.Root)) throw new UserError($"{run.Root}: run directory not found; train first (./vae train) or pass --run RUN_DIR");
        if (File.Exists(run.Model)) return ModelExport.Read(run.Model);
        var checkpoint = new CheckpointStore(run.Checkpoints, keep: int.MaxValue).LoadNewestGood(_ => { })
            ?? throw new UserError($"{run.Root}: holds neither model.safetensors nor a usable checkpoint");
        var options = TrainingOptions.FromJson(checkpoint.ConfigJson);
        var model = new Vae(new ModelShape(options.Hidden, options.Latent));
        model.LoadParameters(checkpoint.Parameters.ToDictionary(p => p.Name, p => p.Tensor));
        return model;
    }
}
