using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using static TorchSharp.torch;

namespace VaeCluster.Checkpoints;

/// <summary>
/// A <see cref="Checkpoint"/> as one safetensors file (layout in docs/CHECKPOINT_FORMAT.md): tensors
/// <c>model.*</c>, <c>adam.exp_avg.*</c>, <c>adam.exp_avg_sq.*</c>; scalars as string metadata; and a SHA-256
/// of the data section, because safetensors itself has no checksum and a flipped bit in a weight would
/// otherwise resume silently.
/// </summary>
public static class CheckpointFormat
{
    public const string FormatTag = "vaecluster-checkpoint/2";

    public const string ModelPrefix = "model.";
    public const string ExpAvgPrefix = "adam.exp_avg.";
    public const string ExpAvgSqPrefix = "adam.exp_avg_sq.";
    /// <summary>--sync-every above 1: the outer optimizer's momentum, and round slot N's inner Adam (inner.N.exp_avg.*, inner.N.exp_avg_sq.*).</summary>
    public const string OuterMomentumPrefix = "outer.momentum.";
    public const string InnerPrefix = "inner.";

    public static class Keys
    {
        public const string Format = "format";
        public const string Epoch = "epoch";
        public const string StepInEpoch = "step_in_epoch";
        public const string GlobalStep = "global_step";
        public const string AdamStep = "adam_step";
        public const string DataOrderSeed = "data_order_seed";
        public const string Config = "config";
        public const string RandomBeforePermutation = "rng_before_permutation";
        public const string RandomCurrent = "rng_current";
        public const string EpochLossSum = "epoch_loss_sum";
        public const string EpochSamples = "epoch_samples";
        public const string Sha256 = "sha256";
        /// <summary>inner.N.step: round slot N's inner Adam step count.</summary>
        public static string InnerStep(int slot) => $"{InnerPrefix}{slot}.step";
    }

    /// <summary>Writes atomically: the file under <paramref name="path"/> is the old one or the new one, whole.</summary>
    public static void Save(string path, Checkpoint checkpoint)
    {
        var tensors = new List<(string Name, long[] Shape, float[] Data)>();
        AddAll(tensors, ModelPrefix, checkpoint.Parameters);
        AddAll(tensors, ExpAvgPrefix, checkpoint.Optimizer.ExpAvg);
        AddAll(tensors, ExpAvgSqPrefix, checkpoint.Optimizer.ExpAvgSq);
        if (checkpoint.Rounds is { } rounds)
        {
            AddAll(tensors, OuterMomentumPrefix, rounds.OuterMomentum);
            foreach (var (slot, state) in rounds.Inner)
            {
                AddAll(tensors, $"{InnerPrefix}{slot}.{ExpAvgSqPrefix[5..]}", state.ExpAvgSq);
                AddAll(tensors, $"{InnerPrefix}{slot}.{ExpAvgPrefix[5..]}", state.ExpAvg);
            }
        }

        var c = checkpoint.Cursor;
        var metadata = new Dictionary<string, string>
        {
            [Keys.Format] = FormatTag,
            [Keys.Epoch] = Number(c.Epoch),
            [Keys.StepInEpoch] = Number(c.StepInEpoch),
            [Keys.GlobalStep] = Number(c.GlobalStep),
            [Keys.AdamStep] = Number(checkpoint.Optimizer.Step),
            [Keys.DataOrderSeed] = Number(checkpoint.DataOrderSeed),
            [Keys.Config] = checkpoint.ConfigJson,
            [Keys.RandomBeforePermutation] = Convert.ToBase64String(checkpoint.Random.BeforePermutation),
            [Keys.RandomCurrent] = Convert.ToBase64String(checkpoint.Random.Current),
        };
        if (checkpoint.EpochLoss is { } epochLoss)
        {
            metadata[Keys.EpochLossSum] = epochLoss.LossSum.ToString("R", CultureInfo.InvariantCulture);
            metadata[Keys.EpochSamples] = Number(epochLoss.Samples);
        }
        foreach (var (slot, state) in checkpoint.Rounds?.Inner ?? [])
            metadata[Keys.InnerStep(slot)] = Number(state.Step);
        metadata[Keys.Sha256] = Checksum(tensors, metadata);
        SafeTensorsFile.Write(path, tensors, metadata);
    }

    /// <summary>Reads and verifies a checkpoint; any defect throws <see cref="CheckpointError"/>. The caller owns the tensors.</summary>
    public static Checkpoint Load(string path)
    {
        var content = SafeTensorsFile.Read(path);
        var meta = content.Metadata;

        var format = meta.GetValueOrDefault(Keys.Format);
        if (format != FormatTag)
            throw new CheckpointError(path, format is null
                ? $"not a VaeCluster checkpoint (no '{Keys.Format}' metadata)"
                : $"format '{format}' is not '{FormatTag}' (another VaeCluster version wrote it; start a new run)");

        string Required(string key) =>
            meta.TryGetValue(key, out var value) ? value : throw new CheckpointError(path, $"metadata '{key}' is missing");

        // Checked before anything else is trusted: a corrupted file can have a plausible header.
        if (Required(Keys.Sha256) != Checksum(content.Tensors, meta))
            throw new CheckpointError(path, "checksum mismatch: the file is corrupted");

        long ParseLong(string key, long min) =>
            long.TryParse(Required(key), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) && v >= min
                ? v
                : throw new CheckpointError(path, $"metadata '{key}' = '{meta[key]}' is not an integer >= {min}");
        int ParseInt(string key, int min) =>
            ParseLong(key, min) is var v && v <= int.MaxValue
                ? (int)v
                : throw new CheckpointError(path, $"metadata '{key}' = '{meta[key]}' is too large");

        var cursor = new TrainingCursor(
            Epoch: ParseInt(Keys.Epoch, 1),
            StepInEpoch: ParseInt(Keys.StepInEpoch, 0),
            GlobalStep: ParseLong(Keys.GlobalStep, 0));
        var adamStep = ParseLong(Keys.AdamStep, 0);
        var dataOrderSeed = ParseLong(Keys.DataOrderSeed, long.MinValue);
        var config = Required(Keys.Config);
        byte[] Base64(string key)
        {
            var text = Required(key);
            var bytes = new byte[text.Length];
            return Convert.TryFromBase64String(text, bytes, out int length) && length > 0
                ? bytes[..length]
                : throw new CheckpointError(path, $"metadata '{key}' is not a base64 generator state");
        }
        var random = new RandomStreamState(Base64(Keys.RandomBeforePermutation), Base64(Keys.RandomCurrent));
        // Optional: checkpoints written before the epoch's loss was kept resume with the epoch's loss counted afresh.
        EpochLoss? epochLoss = null;
        if (meta.ContainsKey(Keys.EpochLossSum) || meta.ContainsKey(Keys.EpochSamples))
        {
            var sumText = Required(Keys.EpochLossSum);
            if (!double.TryParse(sumText, NumberStyles.Float, CultureInfo.InvariantCulture, out var sum) || !double.IsFinite(sum))
                throw new CheckpointError(path, $"metadata '{Keys.EpochLossSum}' = '{sumText}' is not a finite number");
            epochLoss = new EpochLoss(sum, ParseLong(Keys.EpochSamples, 0));
        }

        var (parameters, expAvg, expAvgSq, rounds) = SplitTensors(path, content);
        var roundsState = rounds is null ? null : new RoundsState(rounds.Value.Momentum,
            rounds.Value.Inner.Select(i => (i.Key, new AdamState(ParseLong(Keys.InnerStep(i.Key), 0), i.Value.ExpAvg, i.Value.ExpAvgSq))).ToList());
        return new Checkpoint(cursor, dataOrderSeed, random, config, parameters, new AdamState(adamStep, expAvg, expAvgSq), epochLoss, roundsState);
    }

    private static (List<(string, Tensor)> Model, List<(string, Tensor)> ExpAvg, List<(string, Tensor)> ExpAvgSq,
        (List<(string, Tensor)> Momentum, SortedDictionary<int, (List<(string, Tensor)> ExpAvg, List<(string, Tensor)> ExpAvgSq)> Inner)? Rounds)
        SplitTensors(string path, SafeTensorsContent content)
    {
        var modelShapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var (name, shape, _) in content.Tensors)
        {
            if (name.StartsWith(ModelPrefix, StringComparison.Ordinal)) modelShapes[name[ModelPrefix.Length..]] = shape;
        }

        List<(string, Tensor)> model = [], expAvg = [], expAvgSq = [], momentum = [];
        var inner = new SortedDictionary<int, (List<(string, Tensor)> ExpAvg, List<(string, Tensor)> ExpAvgSq)>();
        var created = new List<Tensor>();
        try
        {
            foreach (var (name, shape, data) in content.Tensors)
            {
                var (list, parameterName) =
                    name.StartsWith(ModelPrefix, StringComparison.Ordinal) ? (model, name[ModelPrefix.Length..]) :
                    name.StartsWith(ExpAvgSqPrefix, StringComparison.Ordinal) ? (expAvgSq, name[ExpAvgSqPrefix.Length..]) :
                    name.StartsWith(ExpAvgPrefix, StringComparison.Ordinal) ? (expAvg, name[ExpAvgPrefix.Length..]) :
                    name.StartsWith(OuterMomentumPrefix, StringComparison.Ordinal) ? (momentum, name[OuterMomentumPrefix.Length..]) :
                    name.StartsWith(InnerPrefix, StringComparison.Ordinal) ? InnerList(path, name, inner) :
                    throw new CheckpointError(path, $"unexpected tensor '{name}' (not model.*, adam.*, outer.momentum.* or inner.N.*)");

                if (list != model)
                {
                    if (!modelShapes.TryGetValue(parameterName, out var parameterShape))
                        throw new CheckpointError(path, $"optimizer tensor '{name}' has no model tensor '{ModelPrefix}{parameterName}'");
                    if (!parameterShape.SequenceEqual(shape))
                        throw new CheckpointError(path, $"optimizer tensor '{name}' has shape [{string.Join(", ", shape)}] but its parameter has [{string.Join(", ", parameterShape)}]");
                }

                var t = tensor(data, shape, ScalarType.Float32);
                created.Add(t);
                list.Add((parameterName, t));
            }
            return (model, expAvg, expAvgSq, momentum.Count > 0 ? (momentum, inner) : null);
        }
        catch
        {
            foreach (var t in created) t.Dispose();
            throw;
        }
    }

    /// <summary>inner.N.exp_avg.NAME or inner.N.exp_avg_sq.NAME: slot N's list and the parameter's name.</summary>
    private static (List<(string, Tensor)>, string) InnerList(
        string path, string name, SortedDictionary<int, (List<(string, Tensor)> ExpAvg, List<(string, Tensor)> ExpAvgSq)> inner)
    {
        var rest = name[InnerPrefix.Length..];
        int dot = rest.IndexOf('.');
        if (dot < 1 || !int.TryParse(rest[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out int slot))
            throw new CheckpointError(path, $"unexpected tensor '{name}' (inner.N.* needs a slot number N)");
        if (!inner.TryGetValue(slot, out var lists)) inner[slot] = lists = ([], []);
        rest = rest[(dot + 1)..];
        const string sq = "exp_avg_sq.", avg = "exp_avg.";
        return rest.StartsWith(sq, StringComparison.Ordinal) ? (lists.ExpAvgSq, rest[sq.Length..])
            : rest.StartsWith(avg, StringComparison.Ordinal) ? (lists.ExpAvg, rest[avg.Length..])
            : throw new CheckpointError(path, $"unexpected tensor '{name}' (inner.N.exp_avg.* or inner.N.exp_avg_sq.*)");
    }

    private static void AddAll(
        List<(string Name, long[] Shape, float[] Data)> into,
        string prefix,
        IReadOnlyList<(string Name, Tensor Tensor)> tensors)
    {
        foreach (var (name, t) in tensors) into.Add((prefix + name, t.shape, SafeTensorsFile.ToFloats(prefix + name, t)));
    }

    /// <summary>
    /// SHA-256 of the data section followed by every metadata entry but the checksum itself (key and value, in
    /// ordinal key order, each NUL-terminated), so a changed digit of <c>epoch</c> is caught as surely as a
    /// flipped bit in a weight.
    /// </summary>
    public static string Checksum(
        IReadOnlyList<(string Name, long[] Shape, float[] Data)> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Convert.FromHexString(SafeTensorsFile.DataSectionSha256(tensors)));
        foreach (var (key, value) in metadata.Where(m => m.Key != Keys.Sha256).OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            sha.AppendData(Encoding.UTF8.GetBytes(key));
            sha.AppendData([0]);
            sha.AppendData(Encoding.UTF8.GetBytes(value));
            sha.AppendData([0]);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
