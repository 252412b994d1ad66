using VaeCluster.Checkpoints;
using VaeCluster.Data;
using VaeCluster.Model;
using VaeCluster.Training;

namespace VaeCluster.Coordinator.Run;

/// <summary>
/// RUN_DIR/model.safetensors: the weights under PyTorch's state_dict names and layouts (Linear weights are
/// [out, in] in both frameworks), plus enough metadata to rebuild the model. The reference VAE's file is exactly
/// a PyTorch state_dict; the mixture model's adds its component means (docs/CHECKPOINT_FORMAT.md).
/// </summary>
public static class ModelExport
{
    /// <summary>
    /// A finished run's export, the one place its prior is fitted: a mixture model's prior is refitted to the codes of
    /// the run's training images (<see cref="MixtureVae.ExportWithFittedPrior"/>, deterministic for the run's seed).
    /// </summary>
    public static void WriteTrained(string path, IVae model, TrainingOptions options, TrainingCursor cursor)
    {
        if (model is not MixtureVae mixture)
        {
            Write(path, model, options, cursor);
            return;
        }
        using var data = MnistDataset.Load(options.DataDir, options.TrainLimit);
        using var labels = LabelTensor.Of(data.Train.Labels, 0, data.Train.Count);
        using var scope = TorchSharp.torch.NewDisposeScope();
        Write(path, mixture.ExportWithFittedPrior(data.Train.Images, labels, options.Seed), model, options, cursor);
    }

    /// <summary>The model as it is (the round trip of tests; a mixture model's prior as trained).</summary>
    public static void Write(string path, IVae model, TrainingOptions options, TrainingCursor cursor) =>
        Write(path, model.ExportTensors(), model, options, cursor);

    private static void Write(string path, IReadOnlyList<(string Name, TorchSharp.torch.Tensor Tensor)> tensors, IVae model, TrainingOptions options, TrainingCursor cursor) =>
        SafeTensorsFile.Write(path, tensors, new Dictionary<string, string>
        {
            ["format"] = "vaecluster-model/1",
            ["model"] = ModelKindName.Of(model.Shape.Kind),
            ["hidden"] = model.Shape.Hidden.ToString(),
            ["latent"] = model.Shape.Latent.ToString(),
            ["epochs"] = (cursor.Epoch - 1).ToString(),
            ["global_step"] = cursor.GlobalStep.ToString(),
            ["config"] = options.ToJson(),
        });

    /// <summary>Loads an exported model for generation; an export without "model" metadata is the reference VAE.</summary>
    public static IVae Read(string path) => Read(path, SafeTensorsFile.Read(path));

    public static IVae Read(string path, SafeTensorsContent content)
    {
        if (!content.Metadata.TryGetValue("hidden", out var hidden) || !content.Metadata.TryGetValue("latent", out var latent)
            || !int.TryParse(hidden, out int h) || !int.TryParse(latent, out int z))
            throw new CheckpointError(path, "not a VaeCluster model export (metadata hidden/latent missing)");
        var kindName = content.Metadata.GetValueOrDefault("model", "vae");
        if (!ModelKindName.TryParse(kindName, out var kind))
            throw new CheckpointError(path, $"unknown model kind '{kindName}' (expected vae or mixture)");
        if (kind == ModelKind.Mixture && z < MixtureVae.Components)
            throw new CheckpointError(path, $"a mixture model needs latent >= {MixtureVae.Components}, metadata says {z}");
        var model = ModelFactory.Create(new ModelShape(h, z, kind));
        var saved = content.Tensors.ToDictionary(t => t.Name, t => content.ToTensor(t.Name));
        try
        {
            model.LoadParameters(saved);
        }
        catch (InvalidDataException e)
        {
            model.Dispose();
            throw new CheckpointError(path, e.Message);
        }
        finally
        {
            foreach (var t in saved.Values) t.Dispose();
        }
        return model;
    }
}
