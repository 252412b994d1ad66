using System.Buffers.Binary;
using System.Security.Cryptography;
using TorchSharp;
using VaeCluster.Checkpoints;
using Xunit;
using static TorchSharp.torch;
using static VaeCluster.Tests.Checkpoints.CheckpointSamples;

namespace VaeCluster.Tests.Checkpoints;

public sealed class CheckpointFormatTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly DisposeScope scope = NewDisposeScope();

    public void Dispose()
    {
        scope.Dispose();
        dir.Dispose();
    }

    [Fact]
    public void Should_round_trip_every_field_with_bit_identical_tensors()
    {
        var path = dir.File("c.ckpt");
        var saved = Make(globalStep: 1234);
        // Values that a lossy path (text, double rounding) would not preserve.
        saved.Parameters[1].Tensor.view(-1)[0] = tensor(float.NaN);
        saved.Parameters[1].Tensor.view(-1)[1] = tensor(-0f);
        saved.Parameters[1].Tensor.view(-1)[2] = tensor(1.0000001f);

        CheckpointFormat.Save(path, saved);
        var loaded = CheckpointFormat.Load(path);

        Assert.Equal(saved.Cursor, loaded.Cursor);
        Assert.Equal(saved.DataOrderSeed, loaded.DataOrderSeed);
        Assert.Equal(saved.Random.BeforePermutation, loaded.Random.BeforePermutation);
        Assert.Equal(saved.Random.Current, loaded.Random.Current);
        Assert.Equal(saved.ConfigJson, loaded.ConfigJson);
        Assert.Equal(saved.Optimizer.Step, loaded.Optimizer.Step);
        AssertSameTensors(saved.Parameters, loaded.Parameters);
        AssertSameTensors(saved.Optimizer.ExpAvg, loaded.Optimizer.ExpAvg);
        AssertSameTensors(saved.Optimizer.ExpAvgSq, loaded.Optimizer.ExpAvgSq);
        Assert.Equal(["fc1.weight", "fc1.bias", "fc21.weight", "fc21.bias", "fc22.weight", "fc22.bias", "fc3.weight", "fc3.bias", "fc4.weight", "fc4.bias"],
            loaded.Parameters.Select(p => p.Name));
    }

    [Fact]
    public void Should_round_trip_the_epochs_running_loss_exactly_and_read_checkpoints_written_without_it()
    {
        var path = dir.File("c.ckpt");
        var lossSum = 0.1 + 0.2 + 1e-13; // a sum that decimal text with fewer digits would not give back
        CheckpointFormat.Save(path, Make(globalStep: 9) with { EpochLoss = new EpochLoss(lossSum, 1152) });

        var loaded = CheckpointFormat.Load(path);
        Assert.Equal(BitConverter.DoubleToInt64Bits(lossSum), BitConverter.DoubleToInt64Bits(loaded.EpochLoss!.LossSum));
        Assert.Equal(1152, loaded.EpochLoss.Samples);

        CheckpointFormat.Save(path, Make(globalStep: 9)); // as checkpoints were written before the epoch's loss was kept
        Assert.Null(CheckpointFormat.Load(path).EpochLoss);
    }

    [Theory]
    [InlineData("epoch_loss_sum", "NaN")]
    [InlineData("epoch_loss_sum", "lots")]
    [InlineData("epoch_samples", "-3")]
    public void Should_reject_an_unreadable_epoch_loss(string key, string value)
    {
        var path = dir.File("c.ckpt");
        RewriteMetadata(path, m => m[key] = value, new EpochLoss(12.5, 256));

        var e = Assert.Throws<CheckpointError>(() => CheckpointFormat.Load(path));
        Assert.Contains($"metadata '{key}' = '{value}'", e.Message);
    }

    [Fact]
    public void Should_store_tensor_names_and_metadata_as_documented()
    {
        var path = dir.File("c.ckpt");
        CheckpointFormat.Save(path, Make(globalStep: 77));

        var content = SafeTensorsFile.Read(path);

        Assert.Contains(content.Tensors, t => t.Name == "model.fc1.weight");
        Assert.Contains(content.Tensors, t => t.Name == "adam.exp_avg.fc4.bias");
        Assert.Contains(content.Tensors, t => t.Name == "adam.exp_avg_sq.fc21.weight");
        var m = content.Metadata;
        Assert.Equal("vaecluster-checkpoint/2", m["format"]);
        Assert.Equal("3", m["epoch"]);
        Assert.Equal("17", m["step_in_epoch"]);
        Assert.Equal("77", m["global_step"]);
        Assert.Equal("77", m["adam_step"]);
        Assert.Equal("-1234567890123", m["data_order_seed"]);
        Assert.Equal(ConfigJson, m["config"]);
        Assert.Equal("AQID+g==", m["rng_before_permutation"]);
        Assert.Equal("CQgHBgU=", m["rng_current"]);

        // sha256 covers the raw bytes after the header, then each other metadata entry as key NUL value NUL in
        // ordinal key order: computed here independently of the writer.
        var bytes = File.ReadAllBytes(path);
        var dataStart = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var sealedText = string.Concat(m.Where(e => e.Key != "sha256").OrderBy(e => e.Key, StringComparer.Ordinal)
            .Select(e => $"{e.Key}\0{e.Value}\0"));
        var expected = SHA256.HashData([.. SHA256.HashData(bytes.AsSpan(dataStart)), .. System.Text.Encoding.UTF8.GetBytes(sealedText)]);
        Assert.Equal(Convert.ToHexStringLower(expected), m["sha256"]);
    }

    [Fact]
    public void Should_detect_a_changed_metadata_value_by_checksum()
    {
        var path = dir.File("c.ckpt");
        CheckpointFormat.Save(path, Make(globalStep: 5));
        var content = SafeTensorsFile.Read(path);
        var metadata = new Dictionary<string, string>(content.Metadata) { ["epoch"] = "4" }; // still a valid epoch
        SafeTensorsFile.Write(path, content.Tensors, metadata);

        var e = Assert.Throws<CheckpointError>(() => CheckpointFormat.Load(path));
        Assert.Equal($"{path}: checksum mismatch: the file is corrupted", e.Message);
    }

    [Fact]
    public void Should_detect_flipped_byte_by_checksum()
    {
        var path = dir.File("c.ckpt");
        CheckpointFormat.Save(path, Make(globalStep: 5));
        var bytes = File.ReadAllBytes(path);
        bytes[^100] ^= 0x01; // a mantissa bit deep in the data section: the layout stays valid
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<CheckpointError>(() => CheckpointFormat.Load(path));
        Assert.Equal($"{path}: checksum mismatch: the file is corrupted", e.Message);
    }

    [Fact]
    public void Should_reject_a_truncated_checkpoint()
    {
        var path = dir.File("c.ckpt");
        CheckpointFormat.Save(path, Make(globalStep: 5));
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var e = Assert.Throws<CheckpointError>(() => CheckpointFormat.Load(path));
        Assert.StartsWith(path + ": ", e.Message);
    }

    [Fact]
    public void Should_reject_a_wrong_format_tag()
    {
        var path = dir.File("c.ckpt");
        RewriteMetadata(path, m => m["format"] = "vaecluster-checkpoint/1");

        var e = Assert.Throws<CheckpointError>(() => CheckpointFormat.Load(path));
        Assert.Equal($"{path}: format 'vaecluster-checkpoint/1' is not 'vaecluster-checkpoint/2' (another VaeCluster version wrote it; start a new run)", e.Message);
    }

    [Fact]
    public void Should_reject_a_safetensors_file_that_is_not_a_checkpoint()
    {
        var path = dir.File("export.safetensors");
        SafeTensorsFile.Write(path, [("fc1.weight", ones(2, 2))], new Dictionary<string, string>());

        var e = Assert.Throws<CheckpointError>(() => CheckpointFormat.Load(path));
        Assert.Contains("not a VaeCluster checkpoint", e.Message);
    }

    [Theory]
    [InlineData("epoch")]
    [InlineData("step_in_epoch")]
    [InlineData("global_step")]
    [InlineData("adam_step")]
    [InlineData("data_order_seed")]
    [InlineData("config")]
    [InlineData("rng_before_permutation")]
    [InlineData("rng_current")]
    [InlineData("sha256")]
    public void Should_reject_missing_metadata(string key)
    {
        var path = dir.File("c.ckpt");
        RewriteMetadata(path, m => m.Remove(key));

        var e = Assert.Throws<CheckpointError>(() => CheckpointFormat.Load(path));
        Assert.Equal($"{path}: metadata '{key}' is missing", e.Message);
    }

    [Theory]
    [InlineData("epoch", "three")]
    [InlineData("epoch", "0")]
    [InlineData("step_in_epoch", "1.5")]
    [InlineData("global_step", "-1")]
    [InlineData("adam_step", "")]
    [InlineData("data_order_seed", "99999999999999999999")]
    public void Should_reject_unparsable_numbers(string key, string value)
    {
        var path = dir.File("c.ckpt");
        RewriteMetadata(path, m => m[key] = value);

        var e = Assert.Throws<CheckpointError>(() => CheckpointFormat.Load(path));
        Assert.Contains($"metadata '{key}' = '{value}'", e.Message);
    }

    [Theory]
    [InlineData("rng_current", "not base64!")]
    [InlineData("rng_before_permutation", "")]
    public void Should_reject_a_generator_state_that_is_not_base64(string key, string value)
    {
        var path = dir.File("c.ckpt");
        RewriteMetadata(path, m => m[key] = value);

        var e = Assert.Throws<CheckpointError>(() => CheckpointFormat.Load(path));
        Assert.Equal($"{path}: metadata '{key}' is not a base64 generator state", e.Message);
    }

    [Fact]
    public void Should_reject_optimizer_state_for_a_parameter_that_is_not_there()
    {
        var path = dir.File("c.ckpt");
        var c = Make(globalStep: 5);
        var orphan = c with { Optimizer = c.Optimizer with { ExpAvg = [.. c.Optimizer.ExpAvg, ("fc9.weight", zeros(2))] } };
        CheckpointFormat.Save(path, orphan);

        var e = Assert.Throws<CheckpointError>(() => CheckpointFormat.Load(path));
        Assert.Contains("'adam.exp_avg.fc9.weight' has no model tensor 'model.fc9.weight'", e.Message);
    }

    [Fact]
    public void Should_reject_optimizer_state_shaped_unlike_its_parameter()
    {
        var path = dir.File("c.ckpt");
        var c = Make(globalStep: 5);
        var wrong = c with { Optimizer = c.Optimizer with { ExpAvgSq = [("fc1.bias", zeros(3))] } };
        CheckpointFormat.Save(path, wrong);

        var e = Assert.Throws<CheckpointError>(() => CheckpointFormat.Load(path));
        Assert.Contains("'adam.exp_avg_sq.fc1.bias' has shape [3]", e.Message);
    }

    /// <summary>Saves a sample checkpoint, edits its metadata, and writes it back with a still-valid checksum.</summary>
    private void RewriteMetadata(string path, Action<Dictionary<string, string>> edit, EpochLoss? epochLoss = null)
    {
        CheckpointFormat.Save(path, Make(globalStep: 5) with { EpochLoss = epochLoss });
        var content = SafeTensorsFile.Read(path);
        var metadata = new Dictionary<string, string>(content.Metadata);
        edit(metadata);
        if (metadata.ContainsKey("sha256")) metadata["sha256"] = CheckpointFormat.Checksum(content.Tensors, metadata);
        SafeTensorsFile.Write(path, content.Tensors, metadata);
    }

    private static void AssertSameTensors(
        IReadOnlyList<(string Name, Tensor Tensor)> expected,
        IReadOnlyList<(string Name, Tensor Tensor)> actual)
    {
        Assert.Equal(expected.Select(t => t.Name), actual.Select(t => t.Name));
        foreach (var ((_, e), (name, a)) in expected.Zip(actual))
        {
            Assert.Equal(e.shape, a.shape);
            Assert.Equal(ScalarType.Float32, a.dtype);
            Assert.True(Bits(e).SequenceEqual(Bits(a)), $"tensor '{name}' differs");
        }
    }
}
