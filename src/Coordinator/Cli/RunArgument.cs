using VaeCluster.Coordinator.Run;

namespace VaeCluster.Coordinator.Cli;

/// <summary>The run directory a command reads (--run, or logs' RUN_DIR): one line when it is empty, a file, or missing.</summary>
public static class RunArgument
{
    public static RunDirectory Existing(string? root, string flag = "--run")
    {
        if (string.IsNullOrWhiteSpace(root)) throw new UserError($"{flag} needs a run directory");
        if (File.Exists(root)) throw new UserError($"{flag} {root}: is a file, not a run directory");
        if (!Directory.Exists(root))
            throw new UserError($"{root}: run directory not found; train first (./vae train) or {(flag.StartsWith('-') ? $"pass {flag} RUN_DIR" : $"give the run's {flag}")}");
        return new RunDirectory(root);
    }
}
