using VaeCluster.Tests.EndToEnd;
using Xunit;
using Xunit.Abstractions;

namespace VaeCluster.Tests.Deploy;

/// <summary>
/// TorchSharp's native library loads on this machine's own libstdc++ with every symbol bound at load time
/// (LD_BIND_NOW=1), and trains: on Debian 12 that holds only because the build marked the library's one
/// GLIBCXX_3.4.32 need weak (Directory.Build.targets); a symbol that really needed GCC 13 would fail here at once.
/// </summary>
[Collection(CommandEndToEndCollection.Name)]
public sealed class NativeLibraryTests(ITestOutputHelper output) : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("vae-bind-now-").FullName;

    [Fact]
    public async Task Should_load_torchsharp_with_every_symbol_bound_at_load_time_and_train_a_few_steps()
    {
        var libstdcxx = DeployFiles.Read("Directory.Build.targets").Split("<VaeSystemLibStdCxx>")[1].Split('<')[0];
        output.WriteLine(File.Exists(libstdcxx) && File.ReadAllText(libstdcxx).Contains("GLIBCXX_3.4.32")
            ? $"{libstdcxx} has GLIBCXX_3.4.32: the library loads unchanged"
            : $"{libstdcxx} lacks GLIBCXX_3.4.32: the library loads through its weak version need");

        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { CliProcess.Cli, "train", "--epochs", "1", "--train-limit", "512", "--run", "run" }) start.ArgumentList.Add(arg);
        start.Environment["LD_BIND_NOW"] = "1";
        start.Environment["VAE_MNIST_DIR"] = TestData.MnistDir;
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        bool finished = true;
        using (var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(3)))
        {
            try { await process.WaitForExitAsync(deadline.Token); }
            catch (OperationCanceledException) { finished = false; process.Kill(entireProcessTree: true); }
        }
        Assert.True(finished, "training 512 images did not finish in 3 minutes");

        var said = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, said);
        Assert.Contains("Training complete after 1 epochs (4 steps)", said);
        Assert.True(File.Exists(Path.Combine(work, "run", "model.safetensors")));
    }

    public void Dispose() => Directory.Delete(work, recursive: true);
}
