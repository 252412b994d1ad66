using VaeCluster.Checkpoints;
using VaeCluster.Model;
using VaeCluster.Training;

namespace VaeCluster.Coordinator.Run;

/// <summary>
/// RUN_DIR/model.safetensors: the reference model's weights under PyTorch's state_dict names and layouts
/// (Linear weights are [out, in] in both frameworks), plus enough metadata to rebuild the model.
/// </summary>
public static class ModelExport
{
    public static void Write(string path, Vae model, TrainingOptions options, TrainingCursor cursor) =>
        SafeTensorsFile.Write(path, model.NamedParameters(), new Dictionary<string, string>
        {
            ["format"] = "vaecluster-model/1",
            ["model"] = "vae",
            ["hidden"] = model.Shape.Hidden.ToString(),
            ["latent"] = model.Shape.Latent.ToString(),
            ["epochs"] = (cursor.Epoch - 1).ToString(),
            ["global_step"] = cursor.GlobalStep.ToString(),
            ["config"] = options.ToJson(),
        });

    /// <summary>Loads an exported model for generation.</summary>
    public static Vae Read(string path)
    {
        var content = SafeTensorsFile.Read(path);
        if (!content.Metadata.TryGetValue("hidden", out var hidden) || !content.Metadata.TryGetValue("latent", out var latent)
            || !int.TryParse(hidden, out int h) || !int.TryParse(latent, out int z))
            throw new CheckpointError(path, "not a VaeCluster model export (metadata hidden/latent missing)");
        var model = new Vae(new ModelShape(h, z));
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
