using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>One tiny mixture run and one tiny reference run, trained once and shared by the mixture CLI tests.</summary>
public sealed class MixtureRuns : IDisposable
{
    public string Work { get; } = Directory.CreateTempSubdirectory("vae-mix-").FullName;
    public string Mixture => Path.Combine(Work, "mix");
    public string Reference => Path.Combine(Work, "ref");

    public MixtureRuns()
    {
        var mix = CliProcess.Run(Work, "train", "--model", "mixture", "--epochs", "1", "--workers", "2", "--train-limit", "1024", "--checkpoint-every", "4", "--run", "mix");
        Assert.True(mix.ExitCode == 0, mix.StdOut + mix.StdErr);
        var reference = CliProcess.Run(Work, "train", "--epochs", "1", "--workers", "2", "--train-limit", "256", "--run", "ref");
        Assert.True(reference.ExitCode == 0, reference.StdOut + reference.StdErr);
    }

    public void Dispose() => Directory.Delete(Work, recursive: true);
}
