using Serilog.Events;
using VaeCluster.Coordinator.Logs;
using Xunit;
using static VaeCluster.Tests.Logs.ClefFiles;

namespace VaeCluster.Tests.Logs;

/// <summary>./vae logs --level, --node and --event.</summary>
public sealed class LogFilterTests
{
    private static readonly ClefEvent[] Events =
    [
        ClefParser.TryParse(FromCoordinator(0, "Epoch {Epoch} done", new { Epoch = 1 }))!,
        ClefParser.TryParse(FromCoordinator(1, "Worker {Worker} left", new { Worker = "worker-2" }, level: "Warning"))!,
        ClefParser.TryParse(FromWorker(1, 2, "Shard {Shard} computed", new { Shard = 3 }, level: "Debug"))!,
        ClefParser.TryParse(FromWorker(2, 3, "Out of memory", level: "Error"))!,
    ];

    private static string[] Shown(LogFilter filter) => Events.Where(filter.Matches).Select(e => e.Message).ToArray();

    [Fact]
    public void Should_show_events_at_or_above_the_level()
    {
        Assert.Equal(["Worker worker-2 left", "Out of memory"], Shown(new LogFilter(LogEventLevel.Warning)));
        Assert.Equal(4, Shown(new LogFilter()).Length);
    }

    [Fact]
    public void Should_treat_an_event_without_a_level_as_information()
    {
        Assert.Equal(LogEventLevel.Information, Events[0].Level);
        Assert.Contains("Epoch 1 done", Shown(new LogFilter(LogEventLevel.Information)));
        Assert.DoesNotContain("Shard 3 computed", Shown(new LogFilter(LogEventLevel.Information)));
    }

    [Theory]
    [InlineData("worker-1", new[] { "Shard 3 computed" })]
    [InlineData("WORKER-2", new[] { "Worker worker-2 left", "Out of memory" })] // its own events, and the coordinator's about it
    [InlineData("coordinator", new[] { "Epoch 1 done", "Worker worker-2 left" })]
    [InlineData("beta/202", new[] { "Out of memory" })]
    [InlineData("beta", new[] { "Shard 3 computed", "Out of memory" })]
    [InlineData("worker", new[] { "Shard 3 computed", "Out of memory" })]
    [InlineData("nobody", new string[0])]
    public void Should_show_events_of_the_named_role_worker_or_node(string node, string[] expected) =>
        Assert.Equal(expected, Shown(new LogFilter(Node: node)));

    [Fact]
    public void Should_match_the_event_text_in_the_template_or_the_rendered_message()
    {
        Assert.Equal(["Epoch 1 done"], Shown(new LogFilter(Text: "{epoch}")));
        Assert.Equal(["Worker worker-2 left"], Shown(new LogFilter(Text: "WORKER-2 LEFT")));
    }

    [Fact]
    public void Should_combine_filters()
    {
        Assert.Equal(["Out of memory"], Shown(new LogFilter(LogEventLevel.Warning, Node: "worker-2", Text: "memory")));
    }

    [Theory]
    [InlineData("warn", LogEventLevel.Warning)]
    [InlineData("Information", LogEventLevel.Information)]
    [InlineData("ERR", LogEventLevel.Error)]
    public void Should_read_level_names_and_short_forms(string text, LogEventLevel level) =>
        Assert.Equal(level, LogFilter.ParseLevel(text));

    [Fact]
    public void Should_refuse_an_unknown_level() => Assert.Null(LogFilter.ParseLevel("loud"));
}
