using VaeCluster.Coordinator.Logs;
using Xunit;
using static VaeCluster.Tests.Logs.ClefFiles;

namespace VaeCluster.Tests.Logs;

/// <summary>Reading the logs of every node of a run: merged in time order, robust to files being written.</summary>
public sealed class RunLogsTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("vae-logs-").FullName;

    private void Write(string file, params string[] lines) =>
        File.WriteAllText(Path.Combine(folder, file), string.Concat(lines.Select(l => l + "\n")));

    [Fact]
    public void Should_merge_the_events_of_all_nodes_in_time_order()
    {
        Write("coordinator.clef", FromCoordinator(0.0, "c0"), FromCoordinator(0.3, "c3"), FromCoordinator(0.6, "c6"));
        Write("worker-1.clef", FromWorker(1, 0.1, "w1-1"), FromWorker(1, 0.4, "w1-4"));
        Write("worker-2.clef", FromWorker(2, 0.2, "w2-2"), FromWorker(2, 0.5, "w2-5"), FromWorker(2, 0.7, "w2-7"));

        var events = new RunLogs(folder).ReadAll();

        Assert.Equal(["c0", "w1-1", "w2-2", "c3", "w1-4", "w2-5", "c6", "w2-7"], events.Select(e => e.Message));
    }

    [Fact]
    public void Should_keep_file_order_for_events_at_the_same_time()
    {
        Write("a.clef", FromCoordinator(1, "first"), FromCoordinator(1, "second"));
        Write("b.clef", FromWorker(1, 1, "third"));

        Assert.Equal(["first", "second", "third"], new RunLogs(folder).ReadAll().Select(e => e.Message));
    }

    [Fact]
    public void Should_skip_a_partial_last_line_without_complaint()
    {
        var cut = FromCoordinator(2, "never finished");
        File.WriteAllText(Path.Combine(folder, "coordinator.clef"), FromCoordinator(1, "whole") + "\n" + cut[..(cut.Length / 2)]);

        var logs = new RunLogs(folder);

        Assert.Equal(["whole"], logs.ReadAll().Select(e => e.Message));
        Assert.Equal(0, logs.Unreadable);
    }

    [Fact]
    public void Should_count_a_corrupt_line_in_the_middle_and_read_on()
    {
        Write("coordinator.clef", FromCoordinator(1, "before"), "{not json", FromCoordinator(2, "after"));

        var logs = new RunLogs(folder);

        Assert.Equal(["before", "after"], logs.ReadAll().Select(e => e.Message));
        Assert.Equal(1, logs.Unreadable);
    }

    [Fact]
    public void Should_read_a_line_once_its_writer_has_finished_it()
    {
        var path = Path.Combine(folder, "worker-1.clef");
        var line = FromWorker(1, 1, "slowly written");
        File.WriteAllText(path, line[..10]);
        var tail = new ClefTail(path);
        Assert.Empty(tail.ReadNew());

        File.AppendAllText(path, line[10..] + "\n");

        Assert.Equal(["slowly written"], tail.ReadNew().Select(e => e.Message));
        Assert.Empty(tail.ReadNew());
    }

    [Fact]
    public async Task Should_follow_new_events_and_new_files_in_time_order()
    {
        Write("coordinator.clef", FromCoordinator(0, "existing"));
        var printed = new List<string>();
        using var stop = new CancellationTokenSource();
        var follow = new RunLogs(folder).FollowAsync(e => { lock (printed) printed.Add(e.Message); },
            poll: TimeSpan.FromMilliseconds(20), holdBack: TimeSpan.FromMilliseconds(300), stop.Token);

        await WaitFor(() => printed.Count == 1);
        // A worker joins late and both nodes write at about the same time, the later event first.
        File.AppendAllText(Path.Combine(folder, "coordinator.clef"), FromCoordinator(2, "later") + "\n");
        Write("worker-1.clef", FromWorker(1, 1, "earlier"));
        await WaitFor(() => printed.Count == 3);
        stop.Cancel();
        await follow;

        Assert.Equal(["existing", "earlier", "later"], printed);
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(10);
        }
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
