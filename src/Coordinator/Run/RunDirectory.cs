namespace VaeCluster.Coordinator.Run;

/// <summary>The files of one training run (RUN_DIR). See docs/RUN_DIRECTORY.md.</summary>
public sealed record RunDirectory(string Root)
{
    public string Logs => Path.Combine(Root, "logs");
    public string Checkpoints => Path.Combine(Root, "checkpoints");
    public string Metrics => Path.Combine(Root, "metrics.jsonl");
    public string Config => Path.Combine(Root, "config.json");
    public string Samples => Path.Combine(Root, "samples.png");
    public string Reconstructions => Path.Combine(Root, "reconstructions.png");
    public string Model => Path.Combine(Root, "model.safetensors");

    public static string DefaultFor(DateTime now) => Path.Combine("runs", now.ToString("yyyyMMdd-HHmmss"));

    public void Create()
    {
        Directory.CreateDirectory(Logs);
        Directory.CreateDirectory(Checkpoints);
    }

    /// <summary>Points runs/latest (beside this run) at it, replacing any older link atomically.</summary>
    public void MarkLatest()
    {
        var parent = Path.GetDirectoryName(Path.GetFullPath(Root))!;
        var link = Path.Combine(parent, "latest");
        if (Directory.Exists(link) && new DirectoryInfo(link).LinkTarget is null) return; // a real folder: leave it
        var temp = link + ".tmp-" + Guid.NewGuid().ToString("N");
        File.CreateSymbolicLink(temp, Path.GetFileName(Path.GetFullPath(Root)));
        File.Move(temp, link, overwrite: true);
    }
}
