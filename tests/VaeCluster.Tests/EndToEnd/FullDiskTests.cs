using System.Diagnostics;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>
/// A disk that fills up ends the run with one line that says so, and no stack trace: at the start (config.json has
/// no room) and in the middle (the first checkpoint has none). The run directory is on a tmpfs of the given size.
/// </summary>
[Collection(CommandEndToEndCollection.Name)]
public sealed class FullDiskTests : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("vae-full-").FullName;
    private string Disk => Path.Combine(work, "disk");

    [SmallDiskTheory]
    [InlineData("4k", "error: No space left on device")]           // one page: the owner's note fills it
    [InlineData("3m", "FTL] Training stopped: No space left on device")] // a checkpoint is 7.8 MB
    public void A_run_on_a_full_disk_stops_with_one_line_saying_so_and_no_stack_trace(string size, string line)
    {
        string data = TinyDataset.WriteRandom(Path.Combine(work, "data"), trainImages: 256);
        SmallDisk.Mount(Disk, size);

        var result = CliProcess.Run(work, "train", "--run", Path.Combine(Disk, "run"), "--epochs", "1", "--data", data,
            "--workers", "1", "--http", "off");

        var output = (result.StdOut + result.StdErr).Split('\n');
        Assert.True(result.ExitCode == 1, $"exit {result.ExitCode}:\n{result.StdOut}{result.StdErr}");
        Assert.Single(output, l => l.Contains(line));
        Assert.DoesNotContain(output, l => l.StartsWith("   at ") || l.Contains("Exception:"));
    }

    public void Dispose()
    {
        SmallDisk.Unmount(Disk);
        Directory.Delete(work, recursive: true);
    }
}

/// <summary>A tmpfs of a chosen size, to fill up on purpose (mounting needs root).</summary>
public static class SmallDisk
{
    public static void Mount(string folder, string size)
    {
        Directory.CreateDirectory(folder);
        Run(["mount", "-t", "tmpfs", "-o", $"size={size}", "tmpfs", folder]);
    }

    /// <summary>Unmounts what <see cref="Mount"/> mounted there, if anything.</summary>
    public static void Unmount(string folder)
    {
        if (Directory.Exists(folder)) Run(["umount", folder], ignoreFailure: true);
    }

    /// <summary>Why a small disk cannot be mounted here (not root, no mount in this container), or null.</summary>
    public static readonly Lazy<string?> WhyUnavailable = new(() =>
    {
        var probe = Directory.CreateTempSubdirectory("vae-tmpfs-probe-").FullName;
        try
        {
            Mount(probe, "4k");
            Unmount(probe);
            return null;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return e.Message;
        }
        finally
        {
            Directory.Delete(probe);
        }
    });

    private static void Run(string[] commandLine, bool ignoreFailure = false)
    {
        var start = new ProcessStartInfo(commandLine[0]) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in commandLine[1..]) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0 && !ignoreFailure)
            throw new InvalidOperationException($"{string.Join(' ', commandLine)}: {error.Trim()}");
    }
}

/// <summary>A test that fills a small tmpfs: skipped, saying why, where one cannot be mounted.</summary>
public sealed class SmallDiskTheoryAttribute : TheoryAttribute
{
    public SmallDiskTheoryAttribute()
    {
        if (SmallDisk.WhyUnavailable.Value is { } why) Skip = $"cannot mount a small tmpfs to fill: {why}";
    }
}
