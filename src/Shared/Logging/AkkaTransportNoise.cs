using Serilog.Events;

namespace VaeCluster.Logging;

/// <summary>
/// Keeps Akka.Remote's transport chatter to one readable line. A node without the cluster's secret (or TLS
/// certificate) makes the coordinator's transport log three events per attempt, two of them errors with a
/// troubleshooting text and an exception, every couple of seconds for as long as it tries; and Akka puts stack
/// traces inside the text of association warnings. A stranger is worth one warning per interval, not a page.
/// </summary>
public sealed class AkkaTransportNoise(TimeSpan every, TimeProvider? clock = null)
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(10);

    private const string StackFrame = "\n   at ";
    private readonly TimeProvider clock = clock ?? TimeProvider.System;
    private readonly Lock gate = new();
    private DateTimeOffset? lastWarned;
    private int quiet;

    public AkkaTransportNoise() : this(DefaultInterval) { }

    /// <summary>False for an event to drop; Akka events that stay lose the stack traces inside their text.</summary>
    public bool Keep(LogEvent e)
    {
        if (!IsAkka(e)) return true;
        string template = e.MessageTemplate.Text;
        if (template.StartsWith("Error caught channel", StringComparison.Ordinal) || template.StartsWith("TLS handshake failed", StringComparison.Ordinal))
            return false; // always followed by the "Rejected incoming connection" warning below
        // DotNetty's channel group, emptied at shutdown before its last channels close: nothing is lost, yet a clean
        // finish would end on a warning that it "may not shut down cleanly".
        if (template.StartsWith("Unable to REMOVE channel", StringComparison.Ordinal) || template.StartsWith("Unable to ADD channel", StringComparison.Ordinal))
            return false;
        if (template.StartsWith("Rejected incoming connection", StringComparison.Ordinal) && !TakeTurn(e)) return false;
        StripStackTraces(e);
        return true;
    }

    private bool TakeTurn(LogEvent e)
    {
        lock (gate)
        {
            var now = clock.GetUtcNow();
            if (lastWarned is { } last && now - last < every)
            {
                quiet++;
                return false;
            }
            lastWarned = now;
            e.AddOrUpdateProperty(new LogEventProperty("RefusedSinceLastWarning", new ScalarValue(quiet)));
            quiet = 0;
            return true;
        }
    }

    private static void StripStackTraces(LogEvent e)
    {
        foreach (var (name, value) in e.Properties.ToList())
            if (value is ScalarValue { Value: string text } && text.Contains(StackFrame, StringComparison.Ordinal))
                e.AddOrUpdateProperty(new LogEventProperty(name, new ScalarValue(text[..text.IndexOf(StackFrame, StringComparison.Ordinal)] + "]")));
    }

    private static bool IsAkka(LogEvent e) =>
        e.Properties.TryGetValue("SourceContext", out var source) && source.ToString().StartsWith("\"Akka", StringComparison.Ordinal);
}
