using Akka.TestKit.Xunit2;
using VaeCluster.Coordinator.Logs;
using VaeCluster.Logging;
using Xunit;
using static VaeCluster.Tests.Logs.ClefFiles;

namespace VaeCluster.Tests.Logs;

/// <summary>The coordinator's writer of forwarded worker logs: one file per worker, each batch once, bounded, losses counted.</summary>
public sealed class NodeLogWriterSpecs : TestKit, IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("vae-node-logs-").FullName;

    void IDisposable.Dispose()
    {
        Shutdown();
        Directory.Delete(folder, recursive: true);
    }

    private static ForwardedLogs Batch(string worker, long sequence, string[] lines, long droppedOnNode = 0, string host = "beta", string? localFile = null) =>
        new(worker, host, 201, localFile, sequence, lines, droppedOnNode);

    private string[] Read(string file) => File.ReadAllLines(Path.Combine(folder, file));

    [Fact]
    public void Should_append_each_workers_events_to_its_own_file_under_a_safe_name_and_acknowledge_each_batch()
    {
        var writer = Sys.ActorOf(NodeLogWriter.Props(folder, Serilog.Core.Logger.None));
        writer.Tell(Batch("worker-1", 1, [FromWorker(1, 1, "Joined")]), TestActor);
        ExpectMsg(new LogsStored(1));
        writer.Tell(Batch("worker-1", 2, [FromWorker(1, 2, "Shard done")]), TestActor);
        ExpectMsg(new LogsStored(2));
        writer.Tell(Batch("../evil/coordinator", 1, [FromWorker(2, 3, "Joined")], host: "gamma"), TestActor);
        ExpectMsg(new LogsStored(1));
        writer.Tell(Batch("coordinator", 1, [FromWorker(3, 4, "Joined")], host: "delta"), TestActor);
        ExpectMsg(new LogsStored(1));

        Assert.Equal([FromWorker(1, 1, "Joined"), FromWorker(1, 2, "Shard done")], Read("worker-1.clef"));
        Assert.Equal([FromWorker(2, 3, "Joined")], Read("_evil_coordinator.clef"));
        Assert.Equal([FromWorker(3, 4, "Joined")], Read("worker-coordinator.clef")); // never the coordinator's own file
        Assert.Equal(["_evil_coordinator.clef", "worker-1.clef", "worker-coordinator.clef"],
            Directory.GetFiles(folder).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Should_store_a_batch_sent_again_after_a_lost_answer_only_once()
    {
        var writer = Sys.ActorOf(NodeLogWriter.Props(folder, Serilog.Core.Logger.None));
        var batch = Batch("worker-1", 1, [FromWorker(1, 1, "Joined")]);
        writer.Tell(batch, TestActor);
        writer.Tell(batch, TestActor);
        ExpectMsg(new LogsStored(1));
        ExpectMsg(new LogsStored(1));
        Assert.Single(Read("worker-1.clef"));
    }

    [Fact]
    public void Should_drop_what_is_not_clef_or_over_the_files_limit_count_it_and_report_it_with_what_the_node_dropped()
    {
        var events = Enumerable.Range(0, 6).Select(i => FromWorker(1, i, "Shard {Shard} done", new { Shard = i })).ToArray();
        long limit = events.Take(4).Sum(e => e.Length + 1); // room for exactly four events
        var writer = Sys.ActorOf(NodeLogWriter.Props(folder, Serilog.Core.Logger.None, maxFileBytes: limit));
        writer.Tell(Batch("worker-1", 1, [events[0], "not a log event", "{\"@t\":\"half", events[1]]), TestActor);
        ExpectMsg(new LogsStored(1));
        writer.Tell(Batch("worker-1", 2, events[2..], droppedOnNode: 7), TestActor);
        ExpectMsg(new LogsStored(2));
        Sys.Stop(writer); // reports what is not reported yet
        AwaitAssert(() => Assert.Contains("\"DroppedOnNode\":7", File.ReadAllText(Path.Combine(folder, "worker-1.clef"))));

        var lines = Read("worker-1.clef");
        var kept = lines.Where(l => l.Contains("\"Role\":\"worker\"")).ToArray();
        Assert.InRange(kept.Length, 2, 4); // the reports take room under the limit too
        Assert.Equal(events[..kept.Length], kept);
        var reports = lines.Where(l => l.Contains("\"Role\":\"coordinator\"")).Select(ClefParser.TryParse).ToList();
        Assert.All(reports, r => Assert.Equal(Serilog.Events.LogEventLevel.Warning, r!.Level));
        // First report: the 2 lines that are not CLEF. Last: those, the events over the limit, and the 7 the node dropped.
        Assert.Equal(("0", "2"), (reports[0]!.Text("DroppedOnNode"), reports[0]!.Text("RefusedHere")));
        int refused = 2 + events.Length - kept.Length;
        Assert.Equal(("7", $"{refused}", $"{refused + 7}"), (reports[^1]!.Text("DroppedOnNode"), reports[^1]!.Text("RefusedHere"), reports[^1]!.Text("Lost")));
    }

    [Fact]
    public void Should_leave_a_file_alone_that_its_worker_on_this_machine_writes_itself()
    {
        var writer = Sys.ActorOf(NodeLogWriter.Props(folder, Serilog.Core.Logger.None));
        string own = Path.Combine(folder, "worker-1.clef");
        File.WriteAllText(own, FromWorker(1, 1, "Joined") + "\n");
        writer.Tell(Batch("worker-1", 1, [FromWorker(1, 1, "Joined")], host: Environment.MachineName, localFile: own), TestActor);
        ExpectMsg(new LogsStored(1));
        Assert.Single(Read("worker-1.clef"));
    }
}
