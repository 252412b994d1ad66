namespace VaeCluster.Coordinator.Run;

/// <summary>The files of one training run (RUN_DIR). See docs/RUN_DIRECTORY.md.</summary>
public sealed record RunDirectory(string Root)
{
    public string Logs => Path.Combine(Root, "logs");
    public string Checkpoints => Path.Combine(Root, "checkpoints");
    public string Metrics => Path.Combine(Root, "metrics.jsonl");
    public string Ledger => Path.Combine(Root, "ledger.jsonl");
    public string Config => Path.Combine(Root, "config.json");
    public string Samples => Path.Combine(Root, "samples.png");
    public string Reconstructions => Path.Combine(Root, "reconstructions.png");
    public string Model => Path.Combine(Root, "model.safetensors");
    public string TensorBoard => Path.Combine(Root, "tensorboard");

    public static string DefaultFor(DateTime now) => Path.Combine("runs", now.ToString("yyyyMMdd-HHmmss"));

    public void Create()
    {
        Directory.CreateDirectory(Logs);
        Directory.CreateDirectory(Checkpoints);
    }

    /// <summary>Points "latest" beside this run at it (a relative link, so the runs folder can move).</summary>
    public void MarkLatest()
    {
        var full = Path.GetFullPath(Root).TrimEnd('/');
        var link = new DirectoryInfo(Path.Combine(Path.GetDirectoryName(full)!, "latest"));
        if (link.LinkTarget is not null) link.Delete();
        else if (link.Exists) return; // a real folder named latest is the user's: leave it
        Directory.CreateSymbolicLink(link.FullName, Path.GetFileName(full));
    }
}
