using VaeCluster.Coordinator.Run;
using Xunit;

namespace VaeCluster.Tests.Run;

public sealed class StepLedgerTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("vae-ledger-").FullName;

    [Fact]
    public void Should_skip_a_line_torn_by_a_kill_and_drop_it_when_a_resume_truncates()
    {
        var path = Path.Combine(dir, "ledger.jsonl");
        using (var ledger = new StepLedger(path))
        {
            for (int step = 0; step < 3; step++)
                ledger.Append(new LedgerEntry(step, 1, step, 128, ["w1"], []));
        }
        File.AppendAllText(path, """{"step":3,"epoch":1,"step_in"""); // the coordinator died mid-append

        Assert.Equal([0L, 1L, 2L], StepLedger.Read(path).Select(e => e.GlobalStep));

        StepLedger.TruncateFrom(path, 2);
        Assert.Equal([0L, 1L], StepLedger.Read(path).Select(e => e.GlobalStep));
        Assert.Equal(2, File.ReadAllLines(path).Length);
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);
}
