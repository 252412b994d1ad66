using System.Text.Json;
using System.Text.Json.Serialization;
using VaeCluster.Model;

namespace VaeCluster.Training;

/// <summary>
/// Everything that defines a run. Saved inside every checkpoint so that a resumed run trains exactly as it began.
/// </summary>
public sealed record TrainingOptions
{
    public int Epochs { get; init; } = 10;
    public int Workers { get; init; } = Environment.ProcessorCount;
    /// <summary>Training pauses while fewer workers than this are present, and goes on when enough are back.</summary>
    public int MinWorkers { get; init; } = 1;
    public int BatchSize { get; init; } = 128;
    public long Seed { get; init; } = 1;
    public double LearningRate { get; init; } = DefaultLearningRate(ModelKind.Vae);

    /// <summary>
    /// Adam's learning rate when --lr is not given: the reference VAE's 1e-3 (PyTorch's example); the mixture model's
    /// 3e-3, with which its decoder draws digits sharp enough in 10 epochs to be read as asked (docs/MIXTURE_MODEL.md).
    /// </summary>
    public static double DefaultLearningRate(ModelKind model) => model == ModelKind.Mixture ? 3e-3 : 1e-3;
    public int Hidden { get; init; } = 400;
    public int Latent { get; init; } = 20;
    /// <summary>Which model to train: the reference VAE, or the digit-conditional mixture model.</summary>
    public ModelKind Model { get; init; } = ModelKind.Vae;
    /// <summary>fp32, or bf16 products in the wide layers (the CLI refuses bf16 on a CPU without native support).</summary>
    public Precision Precision { get; init; } = Precision.Fp32;
    /// <summary>Checkpoint every this many steps (and at each epoch end).</summary>
    public int CheckpointEvery { get; init; } = 200;
    public int KeepCheckpoints { get; init; } = 3;
    /// <summary>A worker that has not answered its shard by then has the shard given to another.</summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>A day: longer deadlines mean none, and a timer far enough out overflows.</summary>
    public static readonly TimeSpan MaxStepTimeout = TimeSpan.FromDays(1);
    /// <summary>Train on the first N training images only (quick runs and tests); null = all.</summary>
    public int? TrainLimit { get; init; }
    /// <summary>Log a progress line every this many steps.</summary>
    public int LogEvery { get; init; } = 100;
    /// <summary>
    /// Bit-for-bit reproducible training: each global batch is cut into <see cref="DeterministicShards"/> shards,
    /// however many workers there are, and their gradients are added in shard order.
    /// </summary>
    public bool Deterministic { get; init; }
    public const int DeterministicShards = 4;
    /// <summary>
    /// Low-communication training (DiLoCo): each worker node takes this many local Adam steps on its shares of as many
    /// global batches, then the coordinator averages the nodes' parameter changes and applies the outer optimizer.
    /// 1 is synchronous training.
    /// </summary>
    public int SyncEvery { get; init; } = 1;
    public const int MaxSyncEvery = 10_000;
    /// <summary>The outer optimizer's (Nesterov momentum SGD) learning rate and momentum, used when <see cref="SyncEvery"/> &gt; 1.</summary>
    public double OuterLearningRate { get; init; } = 0.7;
    public double OuterMomentum { get; init; } = 0.9;
    /// <summary>Defaults to the folder ./vae fetches MNIST into (it exports VAE_MNIST_DIR).</summary>
    public string DataDir { get; init; } = Environment.GetEnvironmentVariable("VAE_MNIST_DIR") ?? "data/mnist";
    /// <summary>
    /// The DataDigest of the training set the run learns from, recorded when it starts: a resume with other data is
    /// refused. null in a run that began before it was recorded, and in options not yet tied to data.
    /// </summary>
    public string? TrainDataSha256 { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = false,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>The model these options train; derived, so not written to JSON.</summary>
    [JsonIgnore]
    public ModelShape Shape => new(Hidden, Latent, Model, Precision);

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainingOptions FromJson(string json) =>
        JsonSerializer.Deserialize<TrainingOptions>(json, Json) ?? throw new FormatException("empty training options");

    /// <summary>Returns the first problem with these options, phrased for a user, or null.</summary>
    public string? Validate() => this switch
    {
        { Epochs: < 1 } => "--epochs must be at least 1",
        { Workers: < 1 or > 256 } => "--workers must be between 1 and 256",
        { } o when o.MinWorkers < 1 || o.MinWorkers > o.Workers => $"--min-workers must be between 1 and --workers ({Workers})",
        { BatchSize: < 1 } => "--batch-size must be at least 1",
        { Deterministic: true, BatchSize: < DeterministicShards } => $"--deterministic needs --batch-size of at least {DeterministicShards}",
        { } o when o.Workers > o.BatchSize => $"--workers ({Workers}) cannot exceed --batch-size ({BatchSize}): every worker needs at least one sample",
        { LearningRate: <= 0 or double.NaN } => "--lr must be a positive number",
        { } o when o.StepTimeout <= TimeSpan.Zero || o.StepTimeout > MaxStepTimeout =>
            $"--step-timeout must be greater than 0 and at most {MaxStepTimeout.TotalSeconds} seconds",
        { CheckpointEvery: < 1 } => "--checkpoint-every must be at least 1",
        { KeepCheckpoints: < 1 } => "--keep-checkpoints must be at least 1",
        { TrainLimit: < 1 } => "--train-limit must be at least 1",
        { SyncEvery: < 1 or > MaxSyncEvery } => $"--sync-every must be a whole number from 1 (synchronous) to {MaxSyncEvery}",
        { Deterministic: true, SyncEvery: > 1 } =>
            "--deterministic cannot be combined with --sync-every above 1: local rounds are reproducible only for a fixed worker layout; drop one of the two",
        { } o when (long)o.SyncEvery * o.BatchSize * (sizeof(int) + sizeof(float) * (long)o.Latent) > 4L << 20 =>
            $"--sync-every {SyncEvery} with --batch-size {BatchSize} makes a round of more than 4 MiB of sample indices and noise; lower --sync-every",
        { OuterLearningRate: <= 0 or double.NaN } => "--outer-lr must be a positive number",
        { OuterMomentum: < 0 or >= 1 or double.NaN } => "--outer-momentum must be at least 0 and below 1",
        { Model: not (ModelKind.Vae or ModelKind.Mixture) } => "--model must be vae or mixture",
        { Precision: not (Precision.Fp32 or Precision.Bf16) } => "--precision must be fp32 or bf16",
        { Model: ModelKind.Mixture, Latent: < MixtureVae.Components } =>
            $"the mixture model needs a latent size of at least {MixtureVae.Components} (one axis per digit), got {Latent}",
        _ => null,
    };
}
