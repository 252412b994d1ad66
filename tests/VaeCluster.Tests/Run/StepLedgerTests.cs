using VaeCluster.Coordinator.Run;
using Xunit;

namespace VaeCluster.Tests.Run;

public sealed class StepLedgerTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("vae-ledger-").FullName;

    [Fact]
    public void Should_skip_a_line_torn_by_a_kill_and_drop_it_when_a_resume_sets_steps_aside()
    {
        var path = Path.Combine(dir, "ledger.jsonl");
        using (var ledger = new StepLedger(path))
        {
            for (int step = 0; step < 3; step++)
                ledger.Append(new LedgerEntry(step, 1, step, 128, ["w1"], []));
        }
        File.AppendAllText(path, """{"step":3,"epoch":1,"step_in"""); // the coordinator died mid-append

        Assert.Equal([0L, 1L, 2L], StepLedger.Read(path).Select(e => e.GlobalStep));

        StepLedger.SetAsideFrom(path, Path.Combine(dir, "ledger.redone.jsonl"), 2);
        Assert.Equal([0L, 1L], StepLedger.Read(path).Select(e => e.GlobalStep));
        Assert.Equal(2, File.ReadAllLines(path).Length);
    }

    [Fact]
    public void Should_set_aside_the_steps_a_resume_redoes_marked_with_where_it_resumed_so_the_ledger_holds_each_step_once()
    {
        var path = Path.Combine(dir, "ledger.jsonl");
        var redone = Path.Combine(dir, "ledger.redone.jsonl");
        using (var ledger = new StepLedger(path))
        {
            for (int step = 0; step < 5; step++) ledger.Append(new LedgerEntry(step, 1, step, 128, ["w1"], []));
        }

        Assert.Equal(3, StepLedger.SetAsideFrom(path, redone, 2));
        using (var ledger = new StepLedger(path))
        {
            for (int step = 2; step < 5; step++) ledger.Append(new LedgerEntry(step, 1, step, 128, ["w2"], []));
        }

        Assert.Equal([0L, 1L, 2L, 3L, 4L], StepLedger.Read(path).Select(e => e.GlobalStep));
        Assert.Equal(["w2", "w2", "w2"], StepLedger.Read(path).Skip(2).Select(e => e.Workers.Single()));
        var setAside = File.ReadAllLines(redone).Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!).ToList();
        Assert.Equal([2L, 3L, 4L], setAside.Select(l => (long)l["step"]!));
        Assert.All(setAside, l => Assert.Equal(2L, (long)l[StepLedger.ResumedFromField]!));
        Assert.All(setAside, l => Assert.Equal("w1", (string)l["workers"]![0]!));

        Assert.Equal(5, StepLedger.SetAsideFrom(path, redone, 0)); // a resume from the very start sets everything aside
        Assert.Empty(StepLedger.Read(path));
        Assert.Equal(8, File.ReadAllLines(redone).Length);
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);
}
