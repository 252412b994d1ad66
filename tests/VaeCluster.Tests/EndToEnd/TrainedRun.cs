using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>
/// One short real training run (2 epochs on 10,000 images, a few seconds), shared by the tests that look at a
/// finished run: just trained enough for its digits to be recognisable.
/// </summary>
public sealed class TrainedRun : IDisposable
{
    public string Work { get; } = Directory.CreateTempSubdirectory("vae-trained-").FullName;
    public string Run => Path.Combine(Work, "run");

    public TrainedRun()
    {
        var result = CliProcess.Run(Work, "train", "--epochs", "2", "--workers", "2", "--train-limit", "10000", "--run", "run");
        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
    }

    public void Dispose() => Directory.Delete(Work, recursive: true);
}
