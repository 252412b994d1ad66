using VaeCluster.Data;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>Bad input: one line that says what is wrong, a non-zero exit, and no run directory that looks complete.</summary>
public sealed class BadInputTests : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("vae-bad-").FullName;

    [Fact]
    public void Should_refuse_a_missing_data_directory_in_one_line()
    {
        var result = CliProcess.Run(work, "train", "--data", "no-such-dir", "--run", "r");
        AssertOneLineError(result, "no-such-dir", "not found");
    }

    [Fact]
    public void Should_refuse_a_truncated_image_file()
    {
        var data = CopyMnist();
        var images = Path.Combine(data, MnistDataset.TrainImagesFile);
        File.WriteAllBytes(images, File.ReadAllBytes(images)[..100_000]);
        AssertOneLineError(CliProcess.Run(work, "train", "--data", data, "--run", "r"), MnistDataset.TrainImagesFile, "truncated");
    }

    [Fact]
    public void Should_refuse_a_file_with_the_wrong_magic_number()
    {
        var data = CopyMnist();
        var labels = Path.Combine(data, MnistDataset.TestLabelsFile);
        var bytes = File.ReadAllBytes(labels);
        bytes[0] = 0x1F;
        File.WriteAllBytes(labels, bytes);
        AssertOneLineError(CliProcess.Run(work, "train", "--data", data, "--run", "r"), MnistDataset.TestLabelsFile, "magic");
    }

    [Fact]
    public void Should_refuse_labels_that_do_not_match_the_images()
    {
        var data = CopyMnist();
        var labels = Path.Combine(data, MnistDataset.TrainLabelsFile);
        IdxFile.WriteLabels(labels, IdxFile.ReadLabels(labels).Data[..59_000]);
        AssertOneLineError(CliProcess.Run(work, "train", "--data", data, "--run", "r"), MnistDataset.TrainLabelsFile, "do not match");
    }

    [Theory]
    [InlineData("--no-such-flag")]
    [InlineData("--epochs", "zero")]
    [InlineData("--epochs", "0")]
    [InlineData("--workers", "-2")]
    public void Should_answer_an_unknown_flag_or_bad_value_with_an_error_and_usage(params string[] args)
    {
        var result = CliProcess.Run(work, ["train", .. args, "--run", "r"]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Usage:", result.StdOut + result.StdErr);
        Assert.False(Directory.Exists(Path.Combine(work, "r")));
    }

    private void AssertOneLineError(CliProcess.Result result, string names, string problem)
    {
        Assert.Equal(2, result.ExitCode);
        var lines = result.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, "expected one line on stderr, got:\n" + result.StdErr);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(names, lines[0]);
        Assert.Contains(problem, lines[0]);
        Assert.False(Directory.Exists(Path.Combine(work, "r")), "a run directory was created for bad input");
    }

    private string CopyMnist()
    {
        var copy = Path.Combine(work, "mnist");
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(TestData.MnistDir)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        return copy;
    }

    public void Dispose() => Directory.Delete(work, recursive: true);
}
