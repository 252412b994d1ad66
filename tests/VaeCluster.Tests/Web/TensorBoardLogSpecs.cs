using Akka.Actor;
using Akka.TestKit.Xunit2;
using VaeCluster.Coordinator.Monitoring;
using VaeCluster.Hosting;
using VaeCluster.Imaging;
using VaeCluster.Tests.Checkpoints;
using Xunit;

namespace VaeCluster.Tests.Web;

/// <summary>The TensorBoard log actor writes event files TensorBoard can read: checked framing, scalars and pictures.</summary>
public sealed class TensorBoardLogSpecs() : TestKit($"{AkkaHost.PinnedDispatcher} {{ type = PinnedDispatcher, executor = thread-pool-executor }}")
{
    [Fact]
    public void Crc32C_matches_the_standard_check_value() =>
        Assert.Equal(0xE3069283u, TensorBoardEventFile.Crc32C("123456789"u8)); // RFC 3720's check value

    [Fact]
    public async Task Should_write_scalars_and_a_picture_that_read_back_with_valid_checksums()
    {
        using var dir = new TempDirectory();
        var picture = dir.File("samples.png");
        DigitGrid.SavePng(picture, Enumerable.Range(0, 4 * 784).Select(i => (i % 784) / 784f).ToArray(), 2);
        var log = Sys.ActorOf(TensorBoardLog.Props(dir.File("tensorboard")));

        log.Tell(new TensorBoardScalars(10, [new("train/loss", 123.5), new("train/samples_per_s", 9000)]));
        log.Tell(new TensorBoardScalars(20, [new("test/loss", 110.25)]));
        log.Tell(new TensorBoardPictures(20, [new("samples", picture)]));
        await log.GracefulStop(TimeSpan.FromSeconds(10)); // its mailbox is done: every record is on disk

        var values = TensorBoardEventFile.Read(Assert.Single(Directory.GetFiles(dir.File("tensorboard"), "events.out.tfevents.*")));
        Assert.Equal(123.5f, values.Single(v => v.Tag == "train/loss").Scalar);
        Assert.Equal(10, values.Single(v => v.Tag == "train/loss").Step);
        Assert.Equal(9000f, values.Single(v => v.Tag == "train/samples_per_s").Scalar);
        Assert.Equal((20L, 110.25f), values.Where(v => v.Tag == "test/loss").Select(v => (v.Step, v.Scalar!.Value)).Single());
        var png = values.Single(v => v.Tag == "samples").Png!;
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
    }

    [Fact]
    public async Task Should_leave_no_file_when_nothing_was_recorded()
    {
        using var dir = new TempDirectory();
        var log = Sys.ActorOf(TensorBoardLog.Props(dir.File("tensorboard")));
        await log.GracefulStop(TimeSpan.FromSeconds(10));
        Assert.False(Directory.Exists(dir.File("tensorboard")));
    }
}
