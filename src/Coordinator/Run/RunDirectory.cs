namespace VaeCluster.Coordinator.Run;

/// <summary>The files of one training run (RUN_DIR). See docs/ARCHITECTURE.md, "Run directory".</summary>
public sealed record RunDirectory(string Root)
{
    public string Logs => Path.Combine(Root, "logs");
    public string Checkpoints => Path.Combine(Root, "checkpoints");
    public string Metrics => Path.Combine(Root, "metrics.jsonl");
    public string Ledger => Path.Combine(Root, "ledger.jsonl");
    /// <summary>Ledger lines a resume went back over: steps that were applied, then redone from an earlier checkpoint.</summary>
    public string RedoneLedger => Path.Combine(Root, "ledger.redone.jsonl");
    public string Config => Path.Combine(Root, "config.json");
    public string Samples => Path.Combine(Root, "samples.png");
    public string Reconstructions => Path.Combine(Root, "reconstructions.png");
    public string Model => Path.Combine(Root, "model.safetensors");
    public string TensorBoard => Path.Combine(Root, "tensorboard");
    /// <summary>Which process owns the run directory now (<see cref="RunDirectoryLock"/>); there only while one does.</summary>
    public string Owner => Path.Combine(Root, "owner.json");

    public static string DefaultFor(DateTime now) => Path.Combine("runs", now.ToString("yyyyMMdd-HHmmss"));

    /// <summary>
    /// Why a run cannot be written here, phrased for a user (naming <paramref name="flag"/>), or null: asked before
    /// anything is written, so that a run directory that is a file, or sits where nothing can be written, costs one
    /// line and leaves nothing behind.
    /// </summary>
    public string? WriteProblem(string flag)
    {
        if (string.IsNullOrWhiteSpace(Root)) return $"{flag} needs a folder name";
        if (WritablePath.ForFolder(Root) is { } problem) return $"{flag} {Root}: {problem}";
        foreach (var folder in new[] { Logs, Checkpoints })
            if (Directory.Exists(folder) && WritablePath.ForFolder(folder) is { } inside) return $"{flag} {Root}: {folder}: {inside}";
        return null;
    }

    /// <summary>Whether a run has trained here: a fresh run must not write over it (or add to its ledger).</summary>
    public bool HoldsTraining =>
        File.Exists(Ledger) || File.Exists(Metrics) || File.Exists(Model) || (Directory.Exists(Checkpoints) && Directory.EnumerateFileSystemEntries(Checkpoints).Any());

    /// <summary>Whether <paramref name="path"/> lies inside this run directory (as written; links are not followed).</summary>
    public bool Contains(string path) =>
        Path.GetFullPath(path).StartsWith(Path.GetFullPath(Root).TrimEnd('/') + "/", StringComparison.Ordinal);

    public void Create()
    {
        Directory.CreateDirectory(Logs);
        Directory.CreateDirectory(Checkpoints);
    }

    /// <summary>
    /// Points "latest" beside this run at it (a relative link, so the runs folder can move). A convenience only:
    /// false when it cannot (a folder beside the run that is read-only, or a file named latest), and the run goes on.
    /// </summary>
    public bool MarkLatest()
    {
        var full = Path.GetFullPath(Root).TrimEnd('/');
        var link = new DirectoryInfo(Path.Combine(Path.GetDirectoryName(full)!, "latest"));
        try
        {
            if (link.LinkTarget is not null) link.Delete();
            else if (link.Exists || File.Exists(link.FullName)) return false; // a real folder or file named latest is the user's: leave it
            Directory.CreateSymbolicLink(link.FullName, Path.GetFileName(full));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
