using Serilog.Events;
using VaeCluster.Coordinator.Logs;
using Xunit;
using static VaeCluster.Tests.Logs.ClefFiles;

namespace VaeCluster.Tests.Logs;

/// <summary>Reading CLEF lines and rendering their message templates.</summary>
public sealed class ClefParserTests
{
    [Fact]
    public void Should_render_formatted_tokens_from_the_renderings_and_others_from_the_properties()
    {
        var line = FromCoordinator(0, "Epoch {Epoch} step {StepInEpoch}/{StepsPerEpoch}: loss {Loss:F2}, {SamplesPerSecond:F0} samples/s",
            new { Epoch = 2, StepInEpoch = 100, StepsPerEpoch = 469, Loss = 114.30123, SamplesPerSecond = 26832.4 }, renderings: ["114.30", "26832"]);

        var e = ClefParser.TryParse(line)!;

        Assert.Equal("Epoch 2 step 100/469: loss 114.30, 26832 samples/s", e.Message);
        Assert.Equal(LogEventLevel.Information, e.Level);
        Assert.Equal(Start, e.Timestamp);
        Assert.Equal("coordinator", e.Text("Role"));
    }

    [Fact]
    public void Should_print_strings_without_quotes_and_keep_escaped_braces_and_unknown_tokens()
    {
        var e = ClefParser.TryParse(FromCoordinator(0, "{{literal}} {Run} {Missing} {@Shape}", new { Run = "runs/a", Shape = new { Hidden = 400 } }))!;

        Assert.Equal("{literal} runs/a {Missing} {\"Hidden\":400}", e.Message);
    }

    [Fact]
    public void Should_read_level_and_exception()
    {
        var e = ClefParser.TryParse("""{"@t":"2026-01-02T10:00:00Z","@mt":"Training stopped","@l":"Fatal","@x":"System.Exception: boom\n   at X","Role":"coordinator"}""")!;

        Assert.Equal(LogEventLevel.Fatal, e.Level);
        Assert.StartsWith("System.Exception: boom", e.Exception);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"@t\":\"2026-01-02T10:00")]
    [InlineData("[1,2]")]
    [InlineData("{\"@mt\":\"no time\"}")]
    public void Should_refuse_what_is_not_a_whole_event(string line) => Assert.Null(ClefParser.TryParse(line));

    [Fact]
    public void Should_print_time_level_node_and_message_on_one_line()
    {
        var e = ClefParser.TryParse(FromWorker(1, 1.25, "Shard {Shard} computed", new { Shard = 3 }, level: "Warning"))!;

        Assert.Equal($"{Start.AddSeconds(1.25).ToLocalTime():HH:mm:ss}.250 WRN [worker-1 beta/201] Shard 3 computed", LogLine.Format(e, colour: false));
    }
}
