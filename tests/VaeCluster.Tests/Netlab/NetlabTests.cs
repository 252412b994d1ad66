using System.Diagnostics;
using Xunit;

namespace VaeCluster.Tests.Netlab;

/// <summary>deploy/netlab.sh itself: what makes its machines separate, and that nothing outlives a lab.</summary>
public sealed class NetlabTests
{
    [NetlabFact]
    public void Machines_have_their_own_hostname_shared_memory_and_address_and_down_leaves_nothing_running()
    {
        string name;
        Process sleeper;
        using (var lab = Netlab.Up(machines: 2))
        {
            name = lab.Name;
            Assert.Equal($"{lab.Hostname(1)}\n", Run(lab, 1, "hostname"));
            Assert.Equal($"{lab.Hostname(2)}\n", Run(lab, 2, "hostname"));
            Run(lab, 1, "sh", "-c", "echo params > /dev/shm/vae-netlab-probe");
            Assert.Equal("params", Run(lab, 1, "cat", "/dev/shm/vae-netlab-probe").Trim()); // kept between commands
            Assert.Equal("", Run(lab, 2, "ls", "/dev/shm"));
            Assert.False(File.Exists("/dev/shm/vae-netlab-probe"));
            Assert.Contains(lab.Address(2), Run(lab, 2, "ip", "-br", "addr"));
            Assert.Contains(lab.Hostname(1), Run(lab, 2, "getent", "hosts", lab.Hostname(1)));
            Assert.DoesNotContain(lab.Address(1), Exec("ip", "-br", "addr")); // no lab address in this namespace
            sleeper = lab.Start(1, ".", ["sleep", "600"]);
        }
        Assert.True(sleeper.WaitForExit(TimeSpan.FromSeconds(10)), "a process in the lab outlived it");
        Assert.DoesNotContain($"vnl-{name}-", Exec("ip", "netns", "list"));
    }

    [NetlabFact]
    public void A_lab_whose_owner_died_is_removed_when_the_next_lab_comes_up()
    {
        string leftover = $"orphan{Environment.ProcessId}";
        // A short-lived shell owns this lab and exits at once, as a killed test run would.
        var orphan = Process.Start("bash", ["-c", $"exec {Netlab.Script} up {leftover} 1 --owner $$ >/dev/null"])!;
        Assert.True(orphan.WaitForExit(TimeSpan.FromSeconds(30)) && orphan.ExitCode == 0, "could not make the orphan lab");
        Assert.Contains($"vnl-{leftover}-1", Exec("ip", "netns", "list"));

        using (Netlab.Up(machines: 1)) { }
        Assert.DoesNotContain($"vnl-{leftover}-", Exec("ip", "netns", "list"));
    }

    private static string Run(Netlab lab, int machine, params string[] command)
    {
        using var process = lab.Start(machine, ".", command);
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), $"{string.Join(' ', command)} did not finish");
        Assert.True(process.ExitCode == 0, $"{string.Join(' ', command)}: {process.StandardError.ReadToEnd()}");
        return output;
    }

    private static string Exec(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true })!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return output;
    }
}
