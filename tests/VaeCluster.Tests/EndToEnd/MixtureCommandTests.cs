using System.Text.Json;
using SkiaSharp;
using VaeCluster.Checkpoints;
using VaeCluster.Data;
using VaeCluster.Model;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>train --model mixture, generate --digit/--idx and evaluate through the real CLI, on tiny runs.</summary>
public sealed class MixtureCommandTests(MixtureRuns runs) : IClassFixture<MixtureRuns>
{
    private string Work => runs.Work;

    [Fact]
    public void Should_write_idx_files_whose_labels_are_the_digits_asked_for_spread_evenly()
    {
        var result = CliProcess.Run(Work, "generate", "--run", "mix", "--digit", "3,7", "--count", "5", "--seed", "4", "--out", "g37.png", "--idx", "g37");
        Assert.True(result.ExitCode == 0, result.StdErr);

        var labels = IdxFile.ReadLabels(Path.Combine(Work, "g37-labels-idx1-ubyte"));
        Assert.Equal([3, 3, 3, 7, 7], labels.Data); // 5 over 2 digits: the first digit listed takes the remainder
        var images = IdxFile.ReadImages(Path.Combine(Work, "g37-images-idx3-ubyte"));
        Assert.Equal(5, images.Count);
        Assert.Contains(images.Data, b => b > 128); // pixels are 0-255 bytes, not 0/1
        using var png = SKBitmap.Decode(Path.Combine(Work, "g37.png"));
        Assert.NotNull(png);

        var again = CliProcess.Run(Work, "generate", "--run", "mix", "--digit", "3,7", "--count", "5", "--seed", "4", "--out", "again.png", "--idx", "again");
        Assert.Equal(0, again.ExitCode);
        Assert.Equal(images.Data, IdxFile.ReadImages(Path.Combine(Work, "again-images-idx3-ubyte")).Data);
    }

    [Theory]
    [InlineData("10", "'10'")]
    [InlineData("x", "'x'")]
    [InlineData("", "''")]
    [InlineData("1,,2", "'1,,2'")]
    public void Should_refuse_a_bad_digit_in_one_line_and_write_nothing(string digit, string quoted)
    {
        var result = CliProcess.Run(Work, "generate", "--run", "mix", "--digit", digit, "--out", "bad.png", "--idx", "bad");
        AssertOneLineError(result, "--digit", quoted);
        Assert.False(File.Exists(Path.Combine(Work, "bad.png")));
        Assert.Empty(Directory.GetFiles(Work, "bad-*"));
    }

    [Fact]
    public void Should_refuse_an_idx_prefix_in_a_missing_folder_before_writing_anything()
    {
        var result = CliProcess.Run(Work, "generate", "--run", "mix", "--digit", "1", "--out", "nofolder.png", "--idx", "missing/gen");
        AssertOneLineError(result, "--idx", "does not exist");
        Assert.False(File.Exists(Path.Combine(Work, "nofolder.png")));
    }

    [Fact]
    public void Should_tell_how_to_train_a_mixture_model_when_a_digit_is_asked_of_the_reference_vae()
    {
        var result = CliProcess.Run(Work, "generate", "--run", "ref", "--digit", "7", "--out", "ref7.png");
        AssertOneLineError(result, "unconditional", "--model mixture");
        Assert.False(File.Exists(Path.Combine(Work, "ref7.png")));
    }

    [Fact]
    public void Should_record_the_kind_in_the_export_and_checkpoints_and_refuse_to_change_it_on_resume()
    {
        var export = SafeTensorsFile.Read(Path.Combine(runs.Mixture, "model.safetensors"));
        Assert.Equal("mixture", export.Metadata["model"]);
        Assert.Equal(["prior.means", "prior.logvars"], export.Tensors.TakeLast(2).Select(t => t.Name));
        // The export's prior is refitted to the codes (MixturePriorFit) unless a digit has too few sure codes, as may
        // happen after one epoch on 1,024 images: then it is training's.
        var components = export.Tensors.Last().Shape[0];
        Assert.Contains(components, new[] { 10L * MixtureVae.PerDigit, 10L * MixturePriorFit.PerDigit });
        Assert.All(export.Tensors.TakeLast(2), t => Assert.Equal([components, 20L], t.Shape));
        var newest = Directory.GetFiles(Path.Combine(runs.Mixture, "checkpoints"), "*.ckpt").Max()!;
        Assert.Contains("\"model\":\"mixture\"", CheckpointFormat.Load(newest).ConfigJson);

        var result = CliProcess.Run(Work, "train", "--resume", "mix", "--model", "vae", "--epochs", "2");
        AssertOneLineError(result, "--model cannot change", "mixture");
    }

    [Fact]
    public void Should_train_each_model_kind_at_its_own_default_learning_rate_when_no_lr_is_given()
    {
        double LearningRate(string run) =>
            JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json"))).RootElement.GetProperty("learning_rate").GetDouble();
        Assert.Equal(0.003, LearningRate(runs.Mixture));
        Assert.Equal(0.001, LearningRate(runs.Reference));
    }

    [Fact]
    public void Should_append_an_evaluate_line_with_per_digit_recognition_and_diversity_and_the_test_elbo()
    {
        var result = CliProcess.Run(Work, "evaluate", "--run", "mix", "--per-digit", "5", "--seed", "2", "--classifier-train-limit", "500");
        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        Assert.Contains("classifier:", result.StdOut);

        var lines = File.ReadAllLines(Path.Combine(runs.Mixture, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var epoch = lines.First(l => !l.TryGetProperty("event", out _));
        var line = lines.Last();
        Assert.Equal("evaluate", line.GetProperty("event").GetString());
        Assert.Equal(1, line.GetProperty("epoch").GetInt32());
        Assert.Equal(5, line.GetProperty("per_digit").GetInt32());
        var shares = line.GetProperty("recognised_by_digit").EnumerateObject().ToList();
        Assert.Equal(Enumerable.Range(0, 10).Select(d => d.ToString()), shares.Select(s => s.Name));
        Assert.All(shares, s => Assert.InRange(s.Value.GetDouble(), 0, 1));
        Assert.Equal(shares.Average(s => s.Value.GetDouble()), line.GetProperty("recognised").GetDouble(), 3);
        var diversity = line.GetProperty("diversity_by_digit").EnumerateObject().ToList();
        Assert.Equal(Enumerable.Range(0, 10).Select(d => d.ToString()), diversity.Select(s => s.Name));
        Assert.All(diversity, s => Assert.InRange(s.Value.GetDouble(), 0.05, 3)); // five varied draws per digit, not copies
        Assert.Equal(diversity.Min(s => s.Value.GetDouble()), line.GetProperty("diversity_worst").GetDouble(), 3);
        // The same objective and model as the epoch's own line, on other noise (training draws it from the run's
        // stream, evaluate from a fixed seed): the two estimates must agree closely.
        double trained = epoch.GetProperty("test_loss").GetDouble();
        Assert.InRange(line.GetProperty("test_loss").GetDouble(), trained * 0.99, trained * 1.01);
        Assert.True(line.GetProperty("test_elbo").GetDouble() < 0);
    }

    private static void AssertOneLineError(CliProcess.Result result, string first, string second)
    {
        Assert.Equal(2, result.ExitCode);
        var lines = result.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, "expected one line on stderr, got:\n" + result.StdErr);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(first, lines[0]);
        Assert.Contains(second, lines[0]);
    }
}
