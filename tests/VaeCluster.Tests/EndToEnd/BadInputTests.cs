using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using VaeCluster.Coordinator.Cli;
using VaeCluster.Data;
using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>Bad input: one line that says what is wrong, a non-zero exit, and nothing written.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // read-only folders are made the Unix way
[Collection(CommandEndToEndCollection.Name)] // dozens of CLI processes: one command test at a time
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

    /// <summary>
    /// Bad input of every kind, each refused before anything is written. Columns: what appsettings.json in the working
    /// directory holds ("" for none), the command line (words split on spaces; &lt;empty&gt; is an empty argument,
    /// {busy} a port held by another socket, {free} a free port), and text the one line must contain. The working
    /// directory always holds: afile (a file), ro/ (read-only), emptyrun/ (no run in it), started/ (a run's ledger),
    /// cert.pem (a PEM certificate) and cluster.pfx (PKCS#12, password "right").
    /// </summary>
    public static TheoryData<string, string, string> Cases => new()
    {
        // the run directory
        { "", "train --run afile", "--run afile: is a file" },
        { "", "train --run afile/run", "is a file, not a folder" },
        { "", "train --run <empty>", "--run needs a folder name" },
        { "", "train --run ro", "cannot write in" },
        { "", "train --run ro/run", "cannot write in" },
        { "", "train --cluster --workers 1 --run ro", "cannot write in" },
        { "", "train --run started", "already holds a run; continue it with --resume started" },
        { "", "train --resume afile", "--resume afile: is a file" },
        { "", "train --resume <empty>", "--resume needs" },
        { "", "train --resume emptyrun", "nothing to resume" },
        { "", "train --resume ro", "cannot write in" },
        // options
        { "", "train --step-timeout 1e20", "--step-timeout must be at most" },
        { "", "train --epochs zero", "--epochs expects a whole number, got 'zero' (see ./vae train --help)" },
        { "", "train --workers -2", "--workers must be at least 1" },
        { "", "train --no-such-flag", "'--no-such-flag'" },
        { "", "train --lr 0", "--lr must be greater than 0" },
        { "", "train --model foo", "--model expects vae or mixture" },
        { "", "train --sync-every 0", "--sync-every must be at least 1" },
        { "", "train --sync-every -4", "--sync-every must be at least 1" },
        { "", "train --sync-every 2.5", "--sync-every expects a whole number, got '2.5'" },
        { "", "train --sync-every 4 --deterministic", "--deterministic cannot be combined with --sync-every above 1" },
        { "", "coordinator --sync-every 0", "--sync-every must be at least 1" },
        { "", "train --sync-every 4 --outer-momentum 1", "--outer-momentum must be below 1" },
        { "", "train --sync-every 4 --outer-lr 0", "--outer-lr must be greater than 0" },
        { "", "train --precision fp16", "--precision expects fp32 or bf16" },
        { "", "train --cluster --max-restarts 101", "--max-restarts must be at most 100" },
        { "", "train --cluster --max-restarts -1", "--max-restarts must be at least 0" },
        { "", "train --max-restarts 2", "--max-restarts starts dead worker processes again, and this run has none; add --cluster" },
        { "", "generate --count 0", "--count must be at least 1" },
        { "", "worker --seed 127.0.0.1:4053 --console-level loud", "--console-level must be" },
        { "", "explore", "give a command: interpolate, latent, curves" },
        { "", "", "give a command: train" },
        { "", "explore interpolate --from 3 --to 3", "--from and --to are both 3" },
        // where the node listens, and its certificate
        { "", "coordinator --host not-a-host.invalid", "--host not-a-host.invalid: no such host name" },
        { "", "coordinator --host 192.0.2.1", "--host 192.0.2.1: not an address of this machine" },
        { "", "worker --seed 127.0.0.1:4053 --host not-a-host.invalid", "no such host name" },
        { "", "coordinator --public-host bad,host", "--public-host 'bad,host' is not a host name" },
        { "", "worker --seed bad,host:4053", "--seed bad,host:4053: expected HOST:PORT" },
        { "", "coordinator --data-port {busy} --port 0", "--data-port {busy}: already in use" },
        { "", "coordinator --port {busy} --data-port 0", "--port {busy}: already in use" },
        { "", "coordinator --port {free} --data-port {free}", "--port and --data-port are both {free}" },
        { "", "worker --seed 127.0.0.1:4053 --port {busy}", "--port {busy}: already in use" },
        { "", "coordinator --tls-cert cert.pem", "--tls-cert cert.pem: not a PKCS#12" },
        { "", "worker --seed 127.0.0.1:4053 --tls-cert cert.pem", "--tls-cert cert.pem: not a PKCS#12" },
        { """{"Cluster": {"TlsPassword": "wrong"}}""", "coordinator --tls-cert cluster.pfx", "the password does not open it" },
        { """{"Cluster": {"Port": 5,""", "coordinator", "appsettings.json is not valid JSON" },
        // the cluster secret: one short line in a regular file, or one long enough
        { "", "coordinator --secret-file /dev/zero", "--secret-file /dev/zero: is not a regular file" },
        { "", "worker --seed 127.0.0.1:4053 --secret-file /dev/zero", "--secret-file /dev/zero: is not a regular file" },
        { "", "coordinator --secret-file emptyrun", "--secret-file emptyrun: is a directory" },
        { "", "coordinator --secret-file afile", "--secret-file afile: the secret is 9 bytes; a cluster secret needs at least 16" },
        { """{"Cluster": {"Secret": "short"}}""", "coordinator", "the secret is 5 bytes; a cluster secret needs at least 16" },
        { """{"Cluster": {"Port": 5,""", "worker --seed 127.0.0.1:4053", "appsettings.json is not valid JSON" },
        // the worker's own files
        { "", "worker --seed 127.0.0.1:4053 --log-dir afile", "--log-dir afile: is a file" },
        { "", "worker --seed 127.0.0.1:4053 --name a/b", "--name 'a/b'" },
        // what reads a run, and where it writes
        { "", "generate --run afile", "--run afile: is a file" },
        { "", "generate --run emptyrun --out <empty>", "--out needs a file name" },
        { "", "explore curves --run emptyrun --out <empty>", "--out needs a file name" },
        { "", "explore curves --run emptyrun --out ro/curves.png", "cannot write in" },
        { "", "evaluate --run <empty>", "--run needs a run directory" },
        { "", "logs afile", "RUN_DIR afile: is a file" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Should_refuse_bad_input_in_one_line_and_write_nothing(string appsettings, string commandLine, string expected)
    {
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        int busyPort = ((IPEndPoint)busy.LocalEndpoint).Port, freePort = FreePort();
        string Fill(string text) => text.Replace("{busy}", $"{busyPort}").Replace("{free}", $"{freePort}");
        var args = Fill(commandLine).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(w => w == "<empty>" ? "" : w).ToArray();
        if (appsettings.Length > 0) File.WriteAllText(Path.Combine(work, "appsettings.json"), appsettings);
        bool readOnly = MakeFixtures();
        if (commandLine.Contains(" ro") && !readOnly) return; // this file system cannot make a folder read-only for root
        var before = Listing();

        var result = CliProcess.Run(work, args);

        Assert.True(result.ExitCode == UserError.ExitCode, $"exit {result.ExitCode}:\n{result.StdErr}{result.StdOut}");
        var lines = result.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, "expected one line on stderr, got:\n" + result.StdErr + result.StdOut);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(Fill(expected), lines[0]);
        Assert.Equal(before, Listing()); // no run directory, config.json, logs/ or latest link
    }

    [Fact]
    public void Should_refuse_a_device_as_the_secret_file_at_once_in_one_line()
    {
        // It used to read /dev/zero until memory ran out: the answer must come as fast as any other refusal.
        var clock = Stopwatch.StartNew();
        var result = CliProcess.Run(work, "coordinator", "--secret-file", "/dev/zero");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        Assert.Equal(UserError.ExitCode, result.ExitCode);
        Assert.Equal(["error: --secret-file /dev/zero: is not a regular file (a device, FIFO or socket); put the secret in a file of its own"],
            result.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Empty(Listing());
    }

    [Fact]
    public void Should_refuse_a_short_secret_from_the_environment_in_one_line()
    {
        var result = CliProcess.Run(work, [("VAE_CLUSTER__SECRET", "hunter2")], "worker", "--seed", "127.0.0.1:4053");
        AssertOneLineError(result, "VAE_CLUSTER__SECRET", "the secret is 7 bytes; a cluster secret needs at least 16");
        Assert.Empty(Listing()); // not even the worker's logs/ folder
    }

    /// <summary>The working directory's fixtures; returns whether ro/ could be made read-only (root needs chattr +i).</summary>
    private bool MakeFixtures()
    {
        File.WriteAllText(Path.Combine(work, "afile"), "not a run");
        Directory.CreateDirectory(Path.Combine(work, "emptyrun"));
        Directory.CreateDirectory(Path.Combine(work, "started"));
        File.WriteAllText(Path.Combine(work, "started", "ledger.jsonl"),
            """{"step":0,"epoch":1,"step_in_epoch":0,"samples":128,"workers":["w"],"reassigned":[]}""" + "\n");
        File.WriteAllText(Path.Combine(work, "cert.pem"), Certificate.Value.Pem);
        File.WriteAllBytes(Path.Combine(work, "cluster.pfx"), Certificate.Value.Pfx);
        Directory.CreateDirectory(ReadOnlyFolder);
        File.SetUnixFileMode(ReadOnlyFolder, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        if (CanWriteIn(ReadOnlyFolder))
        {
            using var chattr = Process.Start("chattr", ["+i", ReadOnlyFolder]);
            chattr.WaitForExit();
        }
        return !CanWriteIn(ReadOnlyFolder);
    }

    private string ReadOnlyFolder => Path.Combine(work, "ro");

    private static bool CanWriteIn(string folder)
    {
        try
        {
            File.WriteAllText(Path.Combine(folder, "probe"), "");
            File.Delete(Path.Combine(folder, "probe"));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private List<string> Listing() =>
        Directory.EnumerateFileSystemEntries(work, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(work, p)).Order().ToList();

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>A self-signed certificate, as PEM (certificate only) and as PKCS#12 with its key under the password "right".</summary>
    private static readonly Lazy<(string Pem, byte[] Pfx)> Certificate = new(() =>
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=vaecluster-test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return (certificate.ExportCertificatePem(), certificate.Export(X509ContentType.Pfx, "right"));
    });

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

    public void Dispose()
    {
        if (Directory.Exists(ReadOnlyFolder))
        {
            using (var chattr = Process.Start("chattr", ["-i", ReadOnlyFolder])) chattr.WaitForExit();
            File.SetUnixFileMode(ReadOnlyFolder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        Directory.Delete(work, recursive: true);
    }
}
