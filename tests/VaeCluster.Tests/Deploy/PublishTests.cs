using Xunit;

namespace VaeCluster.Tests.Deploy;

/// <summary>
/// ./vae publish's launcher (scripts/published/vae) run against a stand-in for the published CLI, and the publish
/// script's refusals, which come before any build. A whole publish takes a minute and is proved in a fresh Debian 12
/// root instead (docs/SETUP.md).
/// </summary>
public sealed class PublishTests : IDisposable
{
    private static readonly string Tcmalloc = DeployFiles.SetupVariable("TCMALLOC");
    private static readonly string Vae = Path.Combine(DeployFiles.Root, "vae");
    private readonly string folder = Directory.CreateTempSubdirectory("vae-published-").FullName;

    public PublishTests()
    {
        // The layout scripts/publish.sh makes: vae, lib/vae (here a stub printing what it was given), data/mnist.
        var publish = DeployFiles.Read("scripts/publish.sh");
        Assert.Contains("-o \"$stage/lib\"", publish);
        Assert.Contains("\"$stage/data/mnist\"", publish);
        Assert.Contains("cp \"$ROOT/scripts/published/vae\" \"$stage/vae\"", publish);
        Directory.CreateDirectory(Path.Combine(folder, "lib"));
        File.Copy(Path.Combine(DeployFiles.Root, "scripts/published/vae"), Path.Combine(folder, "vae"));
        var stub = Path.Combine(folder, "lib", "vae");
        File.WriteAllText(stub, "#!/bin/sh\nprintf 'LD_PRELOAD=%s\\nDOTNET_gcServer=%s\\nDOTNET_TieredPGO=%s\\nVAE_MNIST_DIR=%s\\n' " +
                                "\"$LD_PRELOAD\" \"$DOTNET_gcServer\" \"$DOTNET_TieredPGO\" \"$VAE_MNIST_DIR\"\nprintf 'arg=%s\\n' \"$@\"\n");
        Assert.Equal(0, Shell.Run("chmod", "+x", stub).ExitCode);
    }

    [Fact]
    public void Should_run_the_published_cli_with_the_bundled_mnist_and_the_runtime_settings_of_vae()
    {
        var run = Launch(null, "train", "--epochs", "1");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains($"VAE_MNIST_DIR={folder}/data/mnist", run.Output);
        Assert.Contains("DOTNET_gcServer=0", run.Output);
        Assert.Contains("DOTNET_TieredPGO=1", run.Output);
        Assert.Contains("arg=train\narg=--epochs\narg=1\n", run.Output);
    }

    [Fact]
    public void Should_preload_tcmalloc_where_setup_installs_it_or_say_in_one_line_that_it_is_missing()
    {
        var train = Launch(null, "train");
        var help = Launch(null, "--help");
        if (File.Exists(Tcmalloc))
        {
            Assert.Contains($"LD_PRELOAD={Tcmalloc}\n", train.Output);
            Assert.DoesNotContain("tcmalloc is missing", train.Output);
        }
        else
        {
            Assert.Contains("LD_PRELOAD=\n", train.Output);
            Assert.Single(train.Output.Split('\n'), l => l.Contains("tcmalloc is missing") && l.Contains("apt-get install libtcmalloc-minimal4"));
            Assert.DoesNotContain("tcmalloc is missing", help.Output);
        }
        Assert.Equal(0, train.ExitCode);
    }

    [Fact]
    public void Should_keep_a_data_folder_the_user_chose_and_find_its_own_folder_through_a_link()
    {
        Assert.Contains("VAE_MNIST_DIR=/srv/mnist\n", Launch("/srv/mnist", "train").Output);
        var bin = Directory.CreateTempSubdirectory("vae-bin-").FullName;
        try
        {
            File.CreateSymbolicLink(Path.Combine(bin, "vae"), Path.Combine(folder, "vae"));
            var linked = Shell.Run(new Dictionary<string, string?> { ["VAE_MNIST_DIR"] = null }, Path.Combine(bin, "vae"), "worker");
            Assert.Contains($"VAE_MNIST_DIR={folder}/data/mnist", linked.Output);
        }
        finally
        {
            Directory.Delete(bin, recursive: true);
        }
    }

    [Fact]
    public void Should_refuse_an_unknown_flag_in_one_line_before_building_anything()
    {
        var result = Shell.Run(Vae, "publish", "--target", "win-x64");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("error: publish takes only --out DIR, not '--target'; see ./vae publish --help", result.Output.Trim());
    }

    [Fact]
    public void Should_refuse_to_replace_a_folder_that_is_not_an_earlier_publish_and_leave_it_as_it_was()
    {
        var mine = Directory.CreateTempSubdirectory("vae-not-a-publish-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(mine, "notes.txt"), "keep me");
            var result = Shell.Run(Vae, "publish", "--out", mine);
            Assert.Equal(1, result.ExitCode);
            Assert.Equal($"error: {mine} exists and is not a published VaeCluster folder; choose another --out or remove it", result.Output.Trim());
            Assert.Equal(["notes.txt"], Directory.EnumerateFileSystemEntries(mine).Select(Path.GetFileName));
            Assert.False(File.Exists(mine + ".tar.gz"));
        }
        finally
        {
            Directory.Delete(mine, recursive: true);
        }
    }

    [Fact]
    public void Should_print_its_usage_for_help()
    {
        var result = Shell.Run(Vae, "publish", "--help");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("./vae publish [--out DIR]", result.Output);
    }

    /// <summary>The launcher, with LD_PRELOAD cleared and VAE_MNIST_DIR set as given (null: unset).</summary>
    private Shell.Result Launch(string? mnist, params string[] args) =>
        Shell.Run(new Dictionary<string, string?> { ["LD_PRELOAD"] = null, ["VAE_MNIST_DIR"] = mnist }, Path.Combine(folder, "vae"), args);

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
