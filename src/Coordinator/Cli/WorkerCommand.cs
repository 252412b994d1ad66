using System.CommandLine;
using Serilog.Events;
using VaeCluster.Cluster;
using VaeCluster.Data;
using VaeCluster.Hosting;
using VaeCluster.Logging;
using VaeCluster.Worker.Cluster;

namespace VaeCluster.Coordinator.Cli;

/// <summary>./vae worker: a worker node that joins a coordinator's cluster and computes shard gradients for it.</summary>
public static partial class WorkerCommand
{
    private static readonly Option<string?> Name = new("--name") { Description = "This worker's id in logs (default worker-<machine>-<pid>)." };
    private static readonly Option<string?> Data = new("--data") { Description = "Folder with the MNIST IDX files; the same files as the coordinator's (default data/mnist)." };
    private static readonly Option<string> LogDir = new("--log-dir") { Description = "Folder for this node's compact JSON log, <name>.clef (default logs).", DefaultValueFactory = _ => "logs" };
    private static readonly Option<int?> Actors = NumberOption.Whole("--workers",
        $"Worker actors on this node, one core each (default: one per core, here {Environment.ProcessorCount}); 1 to 256.", int.MinValue);
    private static readonly Option<LogEventLevel> ConsoleLevel = new("--console-level")
    {
        Description = "Least severe level shown on the console: verbose, debug, information (default), warning, error or fatal.",
        DefaultValueFactory = _ => LogEventLevel.Information,
        CustomParser = result =>
        {
            var text = result.Tokens.Single().Value;
            if (Logs.LogFilter.ParseLevel(text) is { } level) return level;
            result.AddError($"--console-level must be verbose, debug, information, warning, error or fatal, got '{text}'");
            return default;
        },
    };
    // Set by ./vae train --cluster: the parent holds our stdin, so its end means the parent is gone.
    private static readonly Option<bool> ExitWithParent = new("--exit-with-parent") { Hidden = true };
    // Set by ./vae train --cluster when there are no more workers than cores: this worker's own core.
    private static readonly Option<int?> Cpu = new("--cpu") { Hidden = true };

    public static Command Create()
    {
        var command = new Command("worker", "Run a worker node: join the cluster through --seed and compute gradients for its coordinator until training ends.")
        {
            ClusterFlags.Seeds, ClusterFlags.Host, ClusterFlags.PublicHost, ClusterFlags.Port, ClusterFlags.SecretFile, ClusterFlags.TlsCertificate, ClusterFlags.Transport, ClusterFlags.Wire, Name, Actors, Data, LogDir, ConsoleLevel, ExitWithParent, Cpu,
        };
        command.SetAction((result, cancel) => UserError.Report(async () =>
        {
            var settings = ClusterFlags.Resolve(result, new ClusterSettings { Port = 0 });
            if (settings.Seeds.Count == 0)
                throw new UserError($"--seed HOST:PORT is required: the coordinator's address, e.g. --seed 127.0.0.1:{ClusterDefaults.CoordinatorPort}");
            int actors = result.GetValue(Actors) ?? Environment.ProcessorCount;
            if (actors is < 1 or > 256) throw new UserError($"--workers must be between 1 and 256 (worker actors on this node), got {actors}");
            if (result.GetValue(Name) is { } given && !WorkerName().IsMatch(given))
                throw new UserError($"--name '{given}': use letters, digits, '.', '_' and '-' only (it names this worker's log file)");
            string id = result.GetValue(Name) ?? $"worker-{Environment.MachineName}-{Environment.ProcessId}";
            var logDir = result.GetValue(LogDir)!;
            if (WritablePath.ForFolder(logDir) is { } unusable) throw new UserError($"--log-dir {logDir}: {unusable}");
            using var ports = NodePorts.Hold(settings, dataPlane: false);
            string dataDir = result.GetValue(Data) ?? Environment.GetEnvironmentVariable("VAE_MNIST_DIR") ?? "data/mnist";
            using var data = MnistDataset.Load(dataDir);

            Directory.CreateDirectory(logDir);
            var logFile = Path.GetFullPath(Path.Combine(logDir, $"{id}.clef"));
            var forward = new LogForwardingQueue(id, logFile);
            using var root = LoggingSetup.Create("worker", logFile, result.GetValue(ConsoleLevel), forward);
            var log = root.ForContext("Worker", id);
            using var stop = new StopSignals(cancel);
            if (result.GetValue(ExitWithParent)) StopWhenStdinCloses(stop);
            if (result.GetValue(Cpu) is int core && !CpuAffinity.PinProcessTo(core))
                log.Warning("Could not pin worker {Worker} to core {Core}; running unpinned", id, core);
            ports.Dispose(); // the node binds its port now
            try
            {
                int exit = await WorkerNodeHost.RunAsync(id, actors, settings, data.Train, log, stop.Token, forward);
                log.Information("Worker {Worker} peak memory {PeakMemoryMb} MB", id, ProcessMemory.PeakMegabytes());
                return exit;
            }
            catch (OperationCanceledException) when (stop.Token.IsCancellationRequested)
            {
                log.Information("Worker {Worker} stopped", id);
                return 130;
            }
        }));
        return command;
    }

    private static void StopWhenStdinCloses(StopSignals stop) => _ = Task.Run(() =>
    {
        using var stdin = Console.OpenStandardInput();
        var buffer = new byte[64];
        try { while (stdin.Read(buffer) > 0) { } }
        catch (IOException) { }
        stop.Cancel();
    });

    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    private static partial System.Text.RegularExpressions.Regex WorkerName();
}
