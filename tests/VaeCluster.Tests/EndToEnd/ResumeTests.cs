using System.Text.Json;
using System.Text.Json.Nodes;
using VaeCluster.Checkpoints;
using VaeCluster.Coordinator.Run;
using VaeCluster.Data;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>
/// One short deterministic run (8 steps, checkpoints at steps 3, 6 and 8), copied by each test and then broken the
/// way a kill or a lost file breaks it, then resumed: the run must end where the undisturbed run ended.
/// </summary>
public sealed class ShortDeterministicRun : IDisposable
{
    public string Work { get; } = Directory.CreateTempSubdirectory("vae-resume-").FullName;
    public string Run => Path.Combine(Work, "base");
    public string StdOut { get; }

    public ShortDeterministicRun()
    {
        var result = CliProcess.Run(Work, "train", "--epochs", "1", "--workers", "1", "--deterministic", "--train-limit", "1024",
            "--checkpoint-every", "3", "--log-every", "1", "--seed", "5", "--run", "base");
        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        StdOut = result.StdOut;
    }

    public void Dispose() => Directory.Delete(Work, recursive: true);
}

[Collection(CommandEndToEndCollection.Name)]
public sealed class ResumeTests(ShortDeterministicRun trained) : IClassFixture<ShortDeterministicRun>
{
    private const int Steps = 8;

    [Fact]
    public void The_deterministic_progress_line_counts_the_workers_not_the_shards()
    {
        var progress = File.ReadLines(Path.Combine(trained.Run, "logs", "coordinator.clef"))
            .Select(l => JsonNode.Parse(l)!)
            .Where(e => ((string?)e["@mt"])?.StartsWith("Epoch {Epoch} step {StepInEpoch}") == true).ToList();

        Assert.Equal(Steps, progress.Count);
        Assert.All(progress, e => Assert.Equal(1, (int)e["Workers"]!)); // one worker computed all 4 shards
    }

    [Fact]
    public void A_run_killed_before_its_first_checkpoint_is_not_restarted_over_its_ledger_and_resumes_from_step_0()
    {
        var run = Copy("killed-early");
        // Killed just before the first checkpoint: every step applied and in the ledger, nothing else kept.
        foreach (var f in Directory.GetFiles(run.Checkpoints)) File.Delete(f);
        File.Delete(run.Model);
        File.Delete(run.Metrics);

        var again = CliProcess.Run(trained.Work, "train", "--epochs", "1", "--workers", "1", "--deterministic", "--train-limit", "1024", "--seed", "5", "--run", run.Root);
        Assert.Equal(2, again.ExitCode);
        Assert.Equal($"error: {run.Root} already holds a run; continue it with --resume {run.Root}, or choose another --run", again.StdErr.Trim());
        Assert.Equal(Steps, StepLedger.Read(run.Ledger).Count);

        var resumed = CliProcess.Run(trained.Work, "train", "--resume", run.Root);
        Assert.True(resumed.ExitCode == 0, resumed.StdOut + resumed.StdErr);
        Assert.Equal(ClusterNodes.ParametersDigest(trained.StdOut), ClusterNodes.ParametersDigest(resumed.StdOut));
        Assert.Equal(Enumerable.Range(0, Steps).Select(s => (long)s), StepLedger.Read(run.Ledger).Select(e => e.GlobalStep));
        var setAside = RedoneLines(run);
        Assert.Equal(Enumerable.Range(0, Steps).Select(s => (long)s), setAside.Select(l => (long)l["step"]!));
        Assert.All(setAside, l => Assert.Equal(0L, (long)l[StepLedger.ResumedFromField]!));
    }

    [Fact]
    public void A_finished_run_that_lost_its_export_writes_it_on_resume()
    {
        var run = Copy("lost-export");
        File.Delete(run.Model);

        var resumed = CliProcess.Run(trained.Work, "train", "--resume", run.Root);

        Assert.True(resumed.ExitCode == 0, resumed.StdOut + resumed.StdErr);
        Assert.Equal(ClusterNodes.ParametersDigest(trained.StdOut), ClusterNodes.ParametersDigest(resumed.StdOut));
        var expected = SafeTensorsFile.Read(Path.Combine(trained.Run, "model.safetensors"));
        var written = SafeTensorsFile.Read(run.Model);
        Assert.Equal(expected.Tensors.Select(t => t.Name), written.Tensors.Select(t => t.Name));
        Assert.All(expected.Tensors.Zip(written.Tensors), p => Assert.True(p.First.Data.SequenceEqual(p.Second.Data), p.First.Name));
        Assert.Equal(Steps, StepLedger.Read(run.Ledger).Count);
        Assert.False(File.Exists(run.RedoneLedger)); // nothing was redone
    }

    [Fact]
    public void A_mid_epoch_resume_logs_the_checkpoint_it_skips_and_keeps_the_whole_epochs_train_loss()
    {
        var run = Copy("mid-epoch");
        var newest = Path.Combine(run.Checkpoints, "step-00000008.ckpt");
        var bytes = File.ReadAllBytes(newest);
        bytes[^10] ^= 0x40;
        File.WriteAllBytes(newest, bytes);
        File.Delete(run.Model);

        var resumed = CliProcess.Run(trained.Work, "train", "--resume", run.Root);

        Assert.True(resumed.ExitCode == 0, resumed.StdOut + resumed.StdErr);
        Assert.Contains("Resuming", resumed.StdOut);
        Assert.Contains(File.ReadLines(Path.Combine(run.Logs, "coordinator.clef")),
            l => l.Contains("Skipped a checkpoint") && l.Contains("step-00000008.ckpt") && l.Contains("checksum mismatch"));
        Assert.Equal(ClusterNodes.ParametersDigest(trained.StdOut), ClusterNodes.ParametersDigest(resumed.StdOut));
        Assert.Equal(TrainLoss(trained.Run), TrainLoss(run.Root)); // steps 0-5 from the checkpoint, 6-7 trained again
        Assert.Equal(Enumerable.Range(0, Steps).Select(s => (long)s), StepLedger.Read(run.Ledger).Select(e => e.GlobalStep));
        Assert.Equal([6L, 7L], RedoneLines(run).Select(l => (long)l["step"]!));
    }

    [Fact]
    public void A_resume_with_other_training_data_is_refused_in_one_line_and_leaves_the_run_as_it_was()
    {
        var run = Copy("other-data");
        File.Delete(run.Model); // a run that would go on training
        string data = MnistWithOnePixelChanged("one-pixel");
        var before = Contents(run);

        var refused = CliProcess.Run(trained.Work, "train", "--resume", run.Root, "--epochs", "2", "--data", data);

        Assert.True(refused.ExitCode == 2, refused.StdOut + refused.StdErr);
        Assert.Equal("", refused.StdOut);
        var line = Assert.Single(refused.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"error: --resume {run.Root}: the training data in {data} differ from the run's (sha256 ", line);
        Assert.EndsWith("); resume with the same --data", line);
        Assert.Equal(before, Contents(run)); // the ledger, config.json and checkpoints included, byte for byte
    }

    [Fact]
    public void A_run_that_recorded_no_training_data_resumes_with_any_and_records_them_from_then_on()
    {
        var run = Copy("no-data-recorded");
        // As a version from before the record left it: neither config.json nor a checkpoint names the data.
        File.WriteAllText(run.Config, WithoutDataRecord(File.ReadAllText(run.Config)));
        foreach (var path in Directory.GetFiles(run.Checkpoints))
        {
            var checkpoint = CheckpointFormat.Load(path);
            CheckpointFormat.Save(path, checkpoint with { ConfigJson = WithoutDataRecord(checkpoint.ConfigJson) });
            checkpoint.DisposeTensors();
        }
        string data = MnistWithOnePixelChanged("one-pixel-old-run");

        var resumed = CliProcess.Run(trained.Work, "train", "--resume", run.Root, "--data", data);

        Assert.True(resumed.ExitCode == 0, resumed.StdOut + resumed.StdErr);
        using var now = MnistDataset.Load(data, trainLimit: 1);
        Assert.Equal(now.Train.Sha256, (string?)JsonNode.Parse(File.ReadAllText(run.Config))!["train_data_sha256"]);
    }

    private static string WithoutDataRecord(string configJson)
    {
        var config = JsonNode.Parse(configJson)!.AsObject();
        Assert.True(config.Remove("train_data_sha256"), "the run recorded no training data: " + configJson);
        return config.ToJsonString();
    }

    /// <summary>A copy of MNIST whose training images differ from it in one pixel.</summary>
    private string MnistWithOnePixelChanged(string name)
    {
        var copy = Directory.CreateDirectory(Path.Combine(trained.Work, name)).FullName;
        foreach (var f in Directory.GetFiles(TestData.MnistDir)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var images = Path.Combine(copy, MnistDataset.TrainImagesFile);
        Assert.True(File.Exists(images), $"{images}: expected MNIST's raw IDX files in {TestData.MnistDir}");
        using (var file = new FileStream(images, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = 16 + 28 * 14 + 14; // past the IDX header: the first image's centre
            int pixel = file.ReadByte();
            file.Position--;
            file.WriteByte((byte)(pixel ^ 0x01));
        }
        return copy;
    }

    /// <summary>Every file of the run by its path, with a digest of its bytes.</summary>
    private static SortedDictionary<string, string> Contents(RunDirectory run) => new(
        Directory.GetFiles(run.Root, "*", SearchOption.AllDirectories).ToDictionary(
            f => Path.GetRelativePath(run.Root, f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f)))));

    private RunDirectory Copy(string name)
    {
        var target = Path.Combine(trained.Work, name);
        foreach (var dir in Directory.GetDirectories(trained.Run, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(trained.Run, dir)));
        foreach (var file in Directory.GetFiles(trained.Run, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(target, Path.GetRelativePath(trained.Run, file)));
        return new RunDirectory(target);
    }

    private static List<JsonNode> RedoneLines(RunDirectory run) =>
        File.ReadAllLines(run.RedoneLedger).Select(l => JsonNode.Parse(l)!).ToList();

    private static double TrainLoss(string run) =>
        JsonDocument.Parse(File.ReadLines(Path.Combine(run, "metrics.jsonl")).Single()).RootElement.GetProperty("train_loss").GetDouble();
}
