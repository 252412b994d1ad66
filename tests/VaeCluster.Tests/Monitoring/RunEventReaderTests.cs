using Serilog;
using Serilog.Core;
using Serilog.Events;
using VaeCluster.Coordinator.Monitoring;
using Xunit;

namespace VaeCluster.Tests.Monitoring;

/// <summary>The coordinator's log events, as the run watcher reads them.</summary>
public sealed class RunEventReaderTests
{
    private sealed class Capture : ILogEventSink
    {
        public LogEvent? Last { get; private set; }
        public void Emit(LogEvent logEvent) => Last = logEvent;
    }

    private static RunEvent? Read(Action<ILogger> write)
    {
        var capture = new Capture();
        using var log = new LoggerConfiguration().MinimumLevel.Debug().WriteTo.Sink(capture).CreateLogger();
        write(log);
        return RunEventReader.Read(capture.Last!);
    }

    [Fact]
    public void Should_read_an_epochs_figures_from_its_closing_line()
    {
        var e = Read(log => log.Information("Epoch {Epoch} done: train loss {TrainLoss:F2}, test loss {TestLoss:F2} nats/image, {SamplesPerSecond:F0} samples/s over {TrainSeconds:F1} s",
            3, 120.5, 115.25, 9000.0, 1.5))!;
        Assert.Equal(RunEventKind.Epoch, e.Kind);
        Assert.Equal(new EpochFigures(3, 120.5, 115.25, 9000), e.Epoch);
    }

    [Fact]
    public void Should_read_who_joined_and_from_where()
    {
        var e = Read(log => log.Information("Worker {Worker} connected its data plane from {Remote} ({Transport})",
            "worker-1", new System.Net.IPEndPoint(System.Net.IPAddress.Parse("10.0.0.5"), 4321), "tcp"))!;
        Assert.Equal((RunEventKind.Join, "worker-1", "10.0.0.5:4321"), (e.Kind, e.Worker, e.Remote));
        Assert.Equal("Worker worker-1 connected its data plane from 10.0.0.5:4321 (tcp)", e.Text); // as on the console, no quotes
    }

    [Theory]
    [InlineData("Checkpoint written at step {Step}", LogEventLevel.Debug, RunEventKind.Checkpoint)]
    [InlineData("Step {Step} skipped: its loss ({Loss}) or gradient is not finite; the parameters are unchanged", LogEventLevel.Error, RunEventKind.Skip)]
    [InlineData("Worker {Worker} missed the {Timeout} deadline for shard {Shard} of step {Step}; giving the shard to another worker", LogEventLevel.Warning, RunEventKind.Reassign)]
    [InlineData("Something unexpected: {Step}", LogEventLevel.Warning, RunEventKind.Warning)]
    [InlineData("Coordinator node up at {Step}", LogEventLevel.Information, RunEventKind.Info)]
    public void Should_classify_by_message_template(string template, LogEventLevel level, RunEventKind kind) =>
        Assert.Equal(kind, Read(log => log.Write(level, template, 1))!.Kind);

    [Fact]
    public void Should_leave_out_debug_chatter_and_the_periodic_step_lines()
    {
        Assert.Null(Read(log => log.Debug("Offered the data plane to worker {Worker}", "w")));
        Assert.Null(Read(log => log.Information("Epoch {Epoch} step {StepInEpoch}/{StepsPerEpoch}: loss {Loss:F2}", 1, 10, 100, 150.0)));
    }
}
