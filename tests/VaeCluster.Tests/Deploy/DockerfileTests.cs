using System.Text.RegularExpressions;
using VaeCluster.Cluster;
using Xunit;

namespace VaeCluster.Tests.Deploy;

/// <summary>deploy/Dockerfile against the published folder (scripts/publish.sh), scripts/setup.sh and ClusterDefaults.</summary>
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
    public void Should_run_the_self_contained_published_build_on_debian_12_with_no_dotnet_image_or_build_inside()
    {
        // The published build carries its own .NET runtime and a libLibTorchSharp.so that loads on Debian 12's libstdc++.
        Assert.Equal(["debian:12-slim"], BaseImages());
        Assert.DoesNotContain(Args("RUN"), r => r.Contains("dotnet "));
        var copied = Args("COPY").Select(c => c.Split(' ')[0]).Order();
        Assert.Equal(["data/mnist", "lib", "vae"], copied);
        Assert.Equal("[\"/opt/vae/vae\"]", Args("ENTRYPOINT").Single());
        Assert.Contains("test -x /opt/vae/vae && test -x /opt/vae/lib/vae", Dockerfile);
    }

    [Fact]
    public void Should_install_debian_12s_own_packages_without_upgrading_any()
    {
        var install = Args("RUN").Single(r => r.Contains("apt-get install"));
        Assert.Contains("--no-upgrade", install);
        Assert.Contains("--no-install-recommends", install);
        // The Debian 12 name of the package whose library the launcher preloads, where setup.sh finds it.
        Assert.Contains("libtcmalloc-minimal4 ", install);
        Assert.Contains($"test -e {DeployFiles.SetupVariable("TCMALLOC")}", install);
        Assert.DoesNotContain("trixie", Dockerfile);
    }

    [Fact]
    public void Should_check_mnist_against_the_same_md5_sums_as_the_setup_script()
    {
        var setup = DeployFiles.Md5Sums(DeployFiles.Read("scripts/setup.sh"));
        Assert.Equal(4, setup.Count);
        Assert.Equal(setup.OrderBy(p => p.Key), DeployFiles.Md5Sums(Dockerfile).OrderBy(p => p.Key));
        Assert.Contains("md5sum -c -", Dockerfile);
        Assert.Contains("VAE_MNIST_DIR=/opt/vae/data/mnist", Dockerfile);
    }

    [Fact]
    public void Should_expose_the_coordinator_data_plane_and_dashboard_ports()
    {
        var exposed = Args("EXPOSE").SelectMany(a => a.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Order();
        Assert.Equal([ClusterDefaults.CoordinatorPort.ToString(), ClusterDefaults.DataPort.ToString(),
            VaeCluster.Coordinator.Web.DashboardAddress.Default.Port.ToString()], exposed);
    }

    [Fact]
    public void Should_run_the_cli_as_a_non_root_user_by_number()
    {
        // By number, so that Kubernetes' runAsNonRoot can verify it.
        var user = Args("USER").Last();
        Assert.Matches(@"^[1-9]\d*(:[1-9]\d*)?$", user);
        Assert.Contains($"useradd --uid {user.Split(':')[0]}", Dockerfile);
    }
}
