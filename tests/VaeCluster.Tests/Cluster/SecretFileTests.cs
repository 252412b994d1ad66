using System.Diagnostics;
using VaeCluster.Cluster;
using VaeCluster.Tests.Checkpoints;
using Xunit;

namespace VaeCluster.Tests.Cluster;

/// <summary>What --secret-file takes: one short line in a regular file, owner-only or with a warning.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // file modes, FIFOs and /dev are the Unix way
public sealed class SecretFileTests : IDisposable
{
    private const string GoodSecret = "correct horse battery staple";
    private readonly TempDirectory folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void Reads_an_owner_only_file_without_its_trailing_newline_and_without_a_warning()
    {
        var reading = SecretFile.Read(Write("cluster.secret", GoodSecret + "\n"));
        Assert.Equal((GoodSecret, null, null), (reading.Secret, reading.Problem, reading.Warning));
    }

    [Fact]
    public void Warns_about_a_file_that_group_or_others_can_read_and_says_how_to_fix_it()
    {
        string path = Write("cluster.secret", GoodSecret + "\n", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var reading = SecretFile.Read(path);
        Assert.Equal(GoodSecret, reading.Secret); // still used: the run works, the operator is told
        Assert.Contains("mode 644", reading.Warning);
        Assert.Contains($"chmod 600 {path}", reading.Warning);
    }

    [Fact]
    public void Refuses_a_device_that_never_ends_without_reading_it()
    {
        var reading = SecretFile.Read("/dev/zero");
        Assert.Null(reading.Secret);
        Assert.Equal("--secret-file /dev/zero: is not a regular file (a device, FIFO or socket); put the secret in a file of its own", reading.Problem);
    }

    [Fact]
    public async Task Refuses_a_fifo_without_opening_it()
    {
        string fifo = folder.File("secret.fifo");
        using (var mkfifo = Process.Start("mkfifo", [fifo])) mkfifo.WaitForExit();
        // Opening a FIFO blocks until a writer comes, and none will: a hang here is the failure.
        var reading = await Task.Run(() => SecretFile.Read(fifo)).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("is not a regular file", reading.Problem);
    }

    [Fact]
    public void Refuses_a_directory_and_a_missing_file()
    {
        Assert.Contains("is a directory", SecretFile.Read(folder.Path).Problem);
        Assert.Equal($"--secret-file {folder.File("none")}: file not found", SecretFile.Read(folder.File("none")).Problem);
    }

    [Fact]
    public void Refuses_a_secret_shorter_than_16_bytes_after_its_newline_is_trimmed()
    {
        string path = Write("short.secret", "Tr0ub4dor&3xyz1\n"); // 15 bytes and a newline
        var problem = SecretFile.Read(path).Problem;
        Assert.Contains("the secret is 15 bytes; a cluster secret needs at least 16", problem);
        Assert.Contains($"openssl rand -hex 32 > {path}", problem);
        Assert.Equal("0123456789abcdef", SecretFile.Read(Write("sixteen.secret", "0123456789abcdef\n")).Secret);
    }

    [Fact]
    public void Refuses_a_file_longer_than_4_KiB_and_an_empty_one()
    {
        Assert.Equal(GoodSecret, SecretFile.Read(Write("full.secret", GoodSecret.PadRight(SecretFile.MaxBytes, ' '))).Secret);
        string path = Write("long.secret", new string('x', SecretFile.MaxBytes + 1));
        Assert.Equal($"--secret-file {path}: longer than 4 KiB; a secret is one line", SecretFile.Read(path).Problem);
        Assert.Contains("the file is empty", SecretFile.Read(Write("empty.secret", "\n")).Problem);
    }

    private string Write(string name, string text, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
        string path = folder.File(name);
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, mode);
        return path;
    }
}
