using Serilog.Events;
using Serilog.Formatting.Display;
using Serilog.Parsing;
using VaeCluster.Logging;
using Xunit;

namespace VaeCluster.Tests.Logging;

/// <summary>While a live display owns the terminal, console log lines go to it instead of the console.</summary>
public sealed class LiveConsoleTests
{
    [Fact]
    public void Should_hand_console_events_to_the_live_display_until_it_lets_go()
    {
        var handed = new List<string>();
        var marker = Guid.NewGuid().ToString("N");
        var original = Console.Out;
        var console = new StringWriter();
        Console.SetOut(console);
        try
        {
            using var log = LoggingSetup.Create("test", clefFile: null);
            using (LiveConsole.HandTo(e => { lock (handed) handed.Add(e.RenderMessage()); }))
            {
                log.Information("while live {Marker}", marker);
                Assert.Throws<InvalidOperationException>(() => LiveConsole.HandTo(_ => { }));
            }
            log.Information("after {Marker}", marker);
        }
        finally
        {
            Console.SetOut(original);
        }

        lock (handed)
        {
            Assert.Contains($"while live \"{marker}\"", handed);
            Assert.DoesNotContain($"after \"{marker}\"", handed);
        }
        Assert.DoesNotContain($"while live {marker}", console.ToString());
        Assert.Contains($"after {marker}", console.ToString());
    }

    [Fact]
    public void Should_not_hand_over_events_below_the_console_level()
    {
        using var log = LoggingSetup.Create("test", clefFile: null, consoleLevel: LogEventLevel.Warning);
        var marker = Guid.NewGuid().ToString("N");
        var handed = new List<string>();
        using (LiveConsole.HandTo(e => { lock (handed) handed.Add(e.RenderMessage()); }))
        {
            log.Information("quiet {Marker}", marker);
            log.Warning("loud {Marker}", marker);
        }
        lock (handed) Assert.Equal([$"loud \"{marker}\""], handed.Where(h => h.Contains(marker)));
    }

    [Fact]
    public void Should_show_an_exception_on_the_console_as_its_message_on_the_events_own_line_never_as_a_stack_trace()
    {
        var full = Thrown(new IOException("No space left on device : '/runs/x/checkpoints/step-00000002.ckpt.tmp'"));
        var refused = Thrown(new InvalidOperationException("Connection refused"));
        Assert.Contains("   at ", full.ToString()); // a real stack trace, that the console must not show

        var fatal = ConsoleText(LogEventLevel.Fatal, full, "Training stopped: {Error}", full.Message);
        var error = ConsoleText(LogEventLevel.Error, refused, "Association with {Peer} failed", "node-2");

        Assert.Matches(@"^\[\d\d:\d\d:\d\d FTL\] Training stopped: No space left on device : '/runs/x/checkpoints/step-00000002.ckpt.tmp'\n$", fatal);
        Assert.Matches(@"^\[\d\d:\d\d:\d\d ERR\] Association with node-2 failed \(InvalidOperationException: Connection refused\)\n$", error);
    }

    /// <summary>An event as the console prints it (the live display prints it the same way).</summary>
    private static string ConsoleText(LogEventLevel level, Exception exception, string template, object value)
    {
        var parsed = new MessageTemplateParser().Parse(template);
        string name = parsed.Tokens.OfType<PropertyToken>().Single().PropertyName;
        var e = new LogEvent(DateTimeOffset.Now, level, exception, parsed, [new LogEventProperty(name, new ScalarValue(value))]);
        var text = new StringWriter { NewLine = "\n" };
        new MessageTemplateTextFormatter(LoggingSetup.ConsoleTemplate).Format(LiveConsoleSink.OneLine(e), text);
        return text.ToString().Replace(Environment.NewLine, "\n");
    }

    private static Exception Thrown(Exception exception)
    {
        try { throw exception; }
        catch (Exception e) { return e; }
    }
}
