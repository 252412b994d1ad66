using VaeCluster.Checkpoints;
using VaeCluster.Model;
using VaeCluster.Training;

namespace VaeCluster.Coordinator.Run;

/// <summary>A run's model as generate and evaluate find it, with the options it was trained with and how far it got.</summary>
public sealed record TrainedModel(IVae Model, TrainingOptions Options, int Epochs, long Step) : IDisposable
{
    /// <summary>The exported model if training finished, else the newest good checkpoint of a run in progress.</summary>
    public static TrainedModel Load(RunDirectory run, Func<string, Exception> notFound)
    {
        if (!Directory.Exists(run.Root)) throw notFound($"{run.Root}: run directory not found; train first (./vae train) or pass --run RUN_DIR");
        if (File.Exists(run.Model))
        {
            var content = SafeTensorsFile.Read(run.Model);
            var options = content.Metadata.TryGetValue("config", out var json) ? TrainingOptions.FromJson(json) : new TrainingOptions();
            var model = ModelExport.Read(run.Model, content);
            int epochs = int.TryParse(content.Metadata.GetValueOrDefault("epochs"), out var e) ? e : options.Epochs;
            long step = long.TryParse(content.Metadata.GetValueOrDefault("global_step"), out var s) ? s : 0;
            return new TrainedModel(model, options, epochs, step);
        }
        var checkpoint = new CheckpointStore(run.Checkpoints, keep: int.MaxValue).LoadNewestGood(_ => { })
            ?? throw notFound($"{run.Root}: holds neither model.safetensors nor a usable checkpoint");
        try
        {
            var options = TrainingOptions.FromJson(checkpoint.ConfigJson);
            var model = ModelFactory.Create(options.Shape);
            model.LoadParameters(checkpoint.Parameters.ToDictionary(p => p.Name, p => p.Tensor));
            return new TrainedModel(model, options, checkpoint.Cursor.Epoch - 1, checkpoint.Cursor.GlobalStep);
        }
        finally
        {
            checkpoint.DisposeTensors();
        }
    }

    public void Dispose() => Model.Dispose();
}
