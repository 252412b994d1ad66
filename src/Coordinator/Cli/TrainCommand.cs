using System.CommandLine;
using VaeCluster.Cluster;
using VaeCluster.Coordinator.Cluster;
using VaeCluster.Coordinator.Web;
using VaeCluster.DataPlane;
using VaeCluster.Model;
using VaeCluster.Training;

namespace VaeCluster.Coordinator.Cli;

/// <summary>./vae train and ./vae coordinator: the flags, and how they become TrainingOptions.</summary>
public static class TrainCommand
{
    private static readonly TrainingOptions Defaults = new();

    private static readonly Option<int?> Epochs = NumberOption.Whole("--epochs", $"Epochs to train (default {Defaults.Epochs}); with --resume, the new total.", 1);
    private static readonly Option<int?> Workers = NumberOption.Whole("--workers", $"Worker actors (default: one per core, here {Defaults.Workers}).", 1);
    private static readonly Option<int?> MinWorkers = NumberOption.Whole("--min-workers", "Pause training while fewer workers than this are present; training starts with this many present once --workers have come, nodes lost since included (default 1).", 1);
    private static readonly Option<bool?> Deterministic = new("--deterministic")
    {
        Description = $"Bit-for-bit reproducible: cut every batch into {TrainingOptions.DeterministicShards} shards, whatever the workers, and add them in order (a little slower).",
    };
    private static readonly Option<int?> SyncEvery = NumberOption.Whole("--sync-every",
        $"Low-communication training (DiLoCo): each worker node takes H local Adam steps on its shares of H global batches, then the coordinator averages the nodes' parameter changes and applies Nesterov momentum (default {Defaults.SyncEvery}: synchronous).", 1);
    private static readonly Option<double?> OuterLearningRate = NumberOption.Positive("--outer-lr", $"With --sync-every above 1: the outer Nesterov step's learning rate (default {Defaults.OuterLearningRate}).");
    private static readonly Option<double?> OuterMomentum = NumberOption.Fraction("--outer-momentum", $"With --sync-every above 1: the outer Nesterov momentum, from 0 to below 1 (default {Defaults.OuterMomentum}).");
    private static readonly Option<int?> BatchSize = NumberOption.Whole("--batch-size", $"Global batch size, cut across the workers (default {Defaults.BatchSize}).", 1);
    private static readonly Option<long?> Seed = NumberOption.Long("--seed", $"Seed for initial weights, data order and noise (default {Defaults.Seed}).");
    private static readonly Option<double?> LearningRate = NumberOption.Positive("--lr",
        $"Adam learning rate (default {TrainingOptions.DefaultLearningRate(ModelKind.Vae)}, with --model mixture {TrainingOptions.DefaultLearningRate(ModelKind.Mixture)}).");
    private static readonly Option<string?> Data = new("--data") { Description = $"Folder with the four MNIST IDX files, raw or .gz (default {Defaults.DataDir}, fetched by ./vae)." };
    private static readonly Option<string?> Run = new("--run") { Description = "Run directory for checkpoints, logs, metrics and pictures (default runs/<timestamp>; runs/latest points at the newest)." };
    private static readonly Option<string?> Resume = new("--resume") { Description = "Continue the run in this directory from its newest good checkpoint." };
    private static readonly Option<int?> CheckpointEvery = NumberOption.Whole("--checkpoint-every", $"Checkpoint every N steps, besides each epoch end (default {Defaults.CheckpointEvery}).", 1);
    private static readonly Option<int?> KeepCheckpoints = NumberOption.Whole("--keep-checkpoints", $"Checkpoints to keep (default {Defaults.KeepCheckpoints}).", 1);
    private static readonly Option<double?> StepTimeout = NumberOption.Positive("--step-timeout", $"Seconds a worker has to answer its shard before the shard goes to another (default {Defaults.StepTimeout.TotalSeconds}, at most {TrainingOptions.MaxStepTimeout.TotalSeconds}).",
        maximum: TrainingOptions.MaxStepTimeout.TotalSeconds);
    private static readonly Option<int?> TrainLimit = NumberOption.Whole("--train-limit", "Train on the first N training images only (quick runs).", 1);
    private static readonly Option<ModelKind?> Model = new("--model")
    {
        Description = "Model to train: vae (the reference VAE, default) or mixture (one prior component per digit, so generate --digit works).",
        CustomParser = result =>
        {
            var text = result.Tokens.Single().Value;
            if (ModelKindName.TryParse(text, out var kind)) return kind;
            result.AddError($"--model expects vae or mixture, got '{text}'.");
            return null;
        },
    };
    private static readonly Option<Precision?> PrecisionFlag = new("--precision")
    {
        HelpName = "fp32|bf16",
        Description = "Number format of the wide layers' matrix products: fp32 (default) or bf16 (CPUs with native bfloat16; weights, Adam and loss stay fp32).",
        CustomParser = result =>
        {
            var text = result.Tokens.Single().Value;
            if (PrecisionName.TryParse(text, out var precision)) return precision;
            result.AddError($"--precision expects fp32 or bf16, got '{text}'.");
            return null;
        },
    };
    private static readonly Option<int?> LogEvery = NumberOption.Whole("--log-every", $"Log progress every N steps (default {Defaults.LogEvery}).", 1);

    private static readonly Option<string?> Http = new("--http")
    {
        Description = $"Serve the live dashboard, /metrics, /healthz and /readyz at HOST:PORT (default {DashboardAddress.Default}, or the next free port; off: no web server).",
    };

    private static readonly Option<bool> Cluster = new("--cluster")
    {
        Description = "Run the workers as separate processes on this machine, joined over Akka.Cluster on loopback, instead of as actors in this process.",
    };

    private static readonly Option<int?> MaxRestarts = NumberOption.Whole("--max-restarts",
        $"With --cluster: how many times a worker process that dies is started again, 1 s, 2 s, 4 s ... after it died (default {LocalWorkerProcesses.DefaultMaxRestarts}; 0: never).",
        0, maximum: 100);

    /// <summary>Loopback and free ports: a local cluster needs no choices and cannot clash with another run.</summary>
    private static readonly ClusterSettings LocalCluster = new() { Host = "127.0.0.1", Port = 0, DataPort = 0, Wire = WirePrecision.Fp32 };

    private static readonly ClusterSettings CoordinatorNode = new()
    {
        Port = ClusterDefaults.CoordinatorPort,
        DataPort = ClusterDefaults.DataPort,
        Wire = WirePrecision.Fp32,
    };

    public static Command Create()
    {
        var command = new Command("train", "Train the VAE: by default coordinator and workers are actors in this process; with --cluster, workers are separate processes.")
        {
            Cluster, ClusterFlags.Transport, ClusterFlags.Wire, MaxRestarts,
        };
        return WithTrainingFlags(command, result => result.GetValue(Cluster) ? RunMode.LocalCluster : RunMode.SingleProcess);
    }

    public static Command CreateCoordinator()
    {
        var command = new Command("coordinator", "Run the coordinator node of a cluster: wait until worker nodes (./vae worker --seed THIS_HOST:PORT) bring --workers worker actors in all, then train.")
        {
            ClusterFlags.Host, ClusterFlags.PublicHost, ClusterFlags.Port, ClusterFlags.DataPort, ClusterFlags.SecretFile, ClusterFlags.TlsCertificate, ClusterFlags.Transport,
            ClusterFlags.Wire,
        };
        return WithTrainingFlags(command, _ => RunMode.CoordinatorNode);
    }

    private static Command WithTrainingFlags(Command command, Func<ParseResult, RunMode> mode)
    {
        foreach (var option in new Option[]
                 {
                     Epochs, Workers, MinWorkers, Deterministic, SyncEvery, OuterLearningRate, OuterMomentum, BatchSize, Seed, LearningRate, Data, Run, Resume, CheckpointEvery, KeepCheckpoints,
                     StepTimeout, TrainLimit, LogEvery, Model, PrecisionFlag, Http,
                 })
            command.Options.Add(option);
        command.SetAction((result, cancel) => UserError.Report(() =>
        {
            var resume = result.GetValue(Resume);
            if (resume is not null && result.GetValue(Run) is not null)
                throw new UserError("--resume and --run both name a run directory; give only --resume RUN_DIR");
            if (!DashboardAddress.TryParse(result.GetValue(Http), out var http, out var httpProblem)) throw new UserError(httpProblem!);
            var runMode = mode(result);
            if (runMode == RunMode.SingleProcess && ClusterFlags.DataPlaneFlagGiven(result) is { } flag)
                throw new UserError($"{flag} sets how a cluster's workers get their tensors, and this run has none; add --cluster, or leave {flag} out");
            int? maxRestarts = result.CommandResult.Command.Options.Contains(MaxRestarts) ? result.GetValue(MaxRestarts) : null;
            if (runMode == RunMode.SingleProcess && maxRestarts is not null)
                throw new UserError("--max-restarts starts dead worker processes again, and this run has none; add --cluster, or leave --max-restarts out");
            int? configuredWorkers = runMode == RunMode.CoordinatorNode ? ClusterFlags.Workers(result) : null;
            var request = new TrainRequest(
                Overrides: options => Apply(result, configuredWorkers is int n ? options with { Workers = n } : options),
                RunDir: resume ?? result.GetValue(Run),
                Resume: resume is not null,
                Mode: runMode,
                Http: http,
                MaxRestarts: maxRestarts ?? LocalWorkerProcesses.DefaultMaxRestarts,
                Cluster: runMode switch
                {
                    RunMode.LocalCluster => ClusterFlags.WithDataPlaneFlags(result, LocalCluster with { Secret = ClusterSecret.NewSecret() }),
                    RunMode.CoordinatorNode => ClusterFlags.Resolve(result, CoordinatorNode),
                    _ => null,
                });
            return TrainRunner.RunAsync(request, cancel);
        }));
        return command;
    }

    /// <summary>A new run that changes the model takes that model's default rate; a resumed run keeps its own.</summary>
    private static double LearningRateUnlessGiven(ParseResult r, TrainingOptions o) =>
        r.GetValue(Model) is ModelKind model && model != o.Model ? TrainingOptions.DefaultLearningRate(model) : o.LearningRate;

    /// <summary>Flags given on the command line replace the corresponding options; the rest stay as they are.</summary>
    private static TrainingOptions Apply(ParseResult r, TrainingOptions o) => o with
    {
        Epochs = r.GetValue(Epochs) ?? o.Epochs,
        Workers = r.GetValue(Workers) ?? o.Workers,
        MinWorkers = r.GetValue(MinWorkers) ?? o.MinWorkers,
        Deterministic = r.GetValue(Deterministic) ?? o.Deterministic,
        SyncEvery = r.GetValue(SyncEvery) ?? o.SyncEvery,
        OuterLearningRate = r.GetValue(OuterLearningRate) ?? o.OuterLearningRate,
        OuterMomentum = r.GetValue(OuterMomentum) ?? o.OuterMomentum,
        BatchSize = r.GetValue(BatchSize) ?? o.BatchSize,
        Seed = r.GetValue(Seed) ?? o.Seed,
        LearningRate = r.GetValue(LearningRate) ?? LearningRateUnlessGiven(r, o),
        DataDir = r.GetValue(Data) ?? o.DataDir,
        CheckpointEvery = r.GetValue(CheckpointEvery) ?? o.CheckpointEvery,
        KeepCheckpoints = r.GetValue(KeepCheckpoints) ?? o.KeepCheckpoints,
        StepTimeout = r.GetValue(StepTimeout) is double s ? TimeSpan.FromSeconds(s) : o.StepTimeout,
        TrainLimit = r.GetValue(TrainLimit) ?? o.TrainLimit,
        LogEvery = r.GetValue(LogEvery) ?? o.LogEvery,
        Model = r.GetValue(Model) ?? o.Model,
        Precision = r.GetValue(PrecisionFlag) ?? o.Precision,
    };
}

/// <summary>What the user asked for: how to change the options, where the run lives, whether it continues, and how the
/// coordinator and workers are laid out. <paramref name="CpuInfo"/> reads /proc/cpuinfo (tests pass another CPU's).
/// <paramref name="MaxRestarts"/>: how often a local cluster starts a dead worker process again (--max-restarts).</summary>
public sealed record TrainRequest(
    Func<TrainingOptions, TrainingOptions> Overrides, string? RunDir, bool Resume,
    RunMode Mode = RunMode.SingleProcess, ClusterSettings? Cluster = null, DashboardAddress? Http = null, Func<string>? CpuInfo = null,
    int MaxRestarts = LocalWorkerProcesses.DefaultMaxRestarts);

public enum RunMode
{
    /// <summary>Coordinator and worker actors in this process, tensors passed by reference.</summary>
    SingleProcess,
    /// <summary>This process is the coordinator node and starts the worker processes itself, on loopback.</summary>
    LocalCluster,
    /// <summary>This process is the coordinator node; worker nodes are started elsewhere and join it.</summary>
    CoordinatorNode,
}
