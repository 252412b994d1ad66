using Serilog;
using VaeCluster.Logging;
using Xunit;

namespace VaeCluster.Tests.Logging;

/// <summary>A worker node's queue of log events bound for the coordinator: bounded, batched, sent again until stored.</summary>
public sealed class LogForwardingQueueTests
{
    private static (LogForwardingQueue Queue, Serilog.Core.Logger Log) Logger(int capacity)
    {
        var queue = new LogForwardingQueue("worker-1", "/var/log/worker-1.clef", capacity);
        return (queue, new LoggerConfiguration().MinimumLevel.Debug().Enrich.WithProperty("Worker", "worker-1").WriteTo.Sink(queue).CreateLogger());
    }

    [Fact]
    public void Should_drop_and_count_events_beyond_its_capacity_and_report_the_count_with_the_next_batch()
    {
        var (queue, log) = Logger(capacity: 3);
        for (int i = 0; i < 5; i++) log.Information("Event {Index}", i);

        var batch = queue.NextBatch()!;
        Assert.Equal(3, batch.Lines.Length);
        Assert.Contains("\"Index\":0", batch.Lines[0]);
        Assert.Contains("\"Worker\":\"worker-1\"", batch.Lines[0]);
        Assert.Equal(2, batch.DroppedOnNode);
        Assert.Equal(("worker-1", "/var/log/worker-1.clef", 1L), (batch.Worker, batch.LocalFile, batch.Sequence));
    }

    [Fact]
    public void Should_offer_the_same_batch_until_it_is_acknowledged_then_the_next_events()
    {
        var (queue, log) = Logger(capacity: 100);
        log.Information("first");
        var first = queue.NextBatch()!;
        log.Information("second");
        Assert.Same(first, queue.NextBatch());
        queue.Acknowledge(first.Sequence);
        var second = queue.NextBatch()!;
        Assert.Equal(2, second.Sequence);
        Assert.Contains("second", Assert.Single(second.Lines));
        queue.Acknowledge(second.Sequence);
        Assert.Null(queue.NextBatch()); // nothing new
    }

    [Fact]
    public void Should_cut_batches_at_200_events_or_32k_characters_and_drop_an_event_larger_than_a_batch()
    {
        var (queue, log) = Logger(capacity: 1000);
        for (int i = 0; i < 250; i++) log.Information("Event {Index}", i);
        var batch = queue.NextBatch()!;
        Assert.Equal(LogForwardingQueue.MaxBatchLines, batch.Lines.Length);
        queue.Acknowledge(batch.Sequence);
        Assert.Equal(50, queue.NextBatch()!.Lines.Length);

        (queue, log) = Logger(capacity: 1000);
        log.Information("{Text}", new string('x', 20_000));
        log.Information("{Text}", new string('y', 20_000));
        log.Information("{Text}", new string('z', 40_000));
        log.Information("small");
        batch = queue.NextBatch()!;
        Assert.Contains("xxx", Assert.Single(batch.Lines)); // the second would pass 32k characters
        queue.Acknowledge(batch.Sequence);
        batch = queue.NextBatch()!;
        Assert.Equal(2, batch.Lines.Length); // y's event and the small one; z's, larger than any batch, is dropped
        Assert.Contains("small", batch.Lines[1]);
        Assert.Equal(1, batch.DroppedOnNode);
    }
}
