using Serilog.Events;
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
}
