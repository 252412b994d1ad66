using Xunit;
using Serilog.Events;
using Serilog.Parsing;
using VaeCluster.Logging;

namespace VaeCluster.Tests.Logging;

public sealed class AkkaTransportNoiseTests
{
    private sealed class Clock : TimeProvider
    {
        public DateTimeOffset Now = DateTimeOffset.UnixEpoch;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static LogEvent Event(string template, string source = "Akka.Actor.ActorSystem", params (string Name, object Value)[] properties)
    {
        var all = properties.Select(p => new LogEventProperty(p.Name, new ScalarValue(p.Value)))
            .Append(new LogEventProperty("SourceContext", new ScalarValue(source)));
        return new LogEvent(DateTimeOffset.UtcNow, LogEventLevel.Warning, null, new MessageTemplateParser().Parse(template), all);
    }

    [Fact]
    public void A_stranger_s_failed_tls_handshake_leaves_one_warning_per_interval_with_the_count_of_the_others()
    {
        var clock = new Clock();
        var noise = new AkkaTransportNoise(TimeSpan.FromSeconds(10), clock);
        var kept = new List<LogEvent>();
        for (int attempt = 0; attempt < 5; attempt++)
        {
            foreach (var e in new[]
            {
                Event("Error caught channel [{0}->{1}](Id={2})"),
                Event("TLS handshake failed on channel [{0}->{1}](Id={2})\n{3}"),
                Event("Rejected incoming connection from [{0}] due to TLS handshake failure."),
            })
                if (noise.Keep(e)) kept.Add(e);
            clock.Now += TimeSpan.FromSeconds(3);
        }

        // Attempts at 0, 3, 6, 9, 12 s: warned at 0 and 12 s; the second warning counts the three in between.
        Assert.Equal(2, kept.Count);
        Assert.All(kept, e => Assert.StartsWith("Rejected incoming connection", e.MessageTemplate.Text));
        Assert.Equal("3", kept[1].Properties["RefusedSinceLastWarning"].ToString());
    }

    [Fact]
    public void The_channel_group_warnings_of_a_clean_shutdown_are_dropped_and_other_akka_warnings_kept()
    {
        var noise = new AkkaTransportNoise();
        Assert.False(noise.Keep(Event("Unable to REMOVE channel [{0}->{1}](Id={2}) from connection group. May not shut down cleanly.",
            "Akka.Remote.Transport.DotNetty.TcpServerHandler")));
        Assert.False(noise.Keep(Event("Unable to ADD channel [{0}->{1}](Id={2}) to connection group. May not shut down cleanly.",
            "Akka.Remote.Transport.DotNetty.TcpClientHandler")));
        Assert.True(noise.Keep(Event("Association with remote system {0} has failed; address is now gated for {1} ms.", "Akka.Remote.EndpointWriter")));
        Assert.True(noise.Keep(Event("Unable to REMOVE the run's checkpoint", "VaeCluster.Coordinator")));
    }

    [Fact]
    public void Stack_traces_inside_akka_warning_text_are_cut_and_the_reason_kept()
    {
        var noise = new AkkaTransportNoise();
        var e = Event("Tried to associate with unreachable remote address [{0}]. Reason: {1}", properties:
        [
            ("0", "akka.tcp://vaecluster@10.0.0.1:4053"),
            ("1", "Caused by: [Akka.Remote.Transport.AkkaProtocolException: The remote system explicitly disassociated (reason unknown).\n   at Akka.Remote.Transport.AkkaProtocolTransport.Associate(Address remoteAddress)\n   at Akka.Remote.EndpointWriter.AssociateAsync()]"),
        ]);

        Assert.True(noise.Keep(e));
        string rendered = e.RenderMessage();
        Assert.DoesNotContain("   at ", rendered);
        Assert.Contains("explicitly disassociated", rendered);
        Assert.DoesNotContain('\n', rendered);
    }

    [Fact]
    public void Events_of_our_own_code_pass_untouched()
    {
        var noise = new AkkaTransportNoise();
        var e = Event("Rejected incoming connection from [{0}] due to a reason of ours", source: "VaeCluster.Coordinator",
            properties: [("0", "line one\n   at not a stack trace of Akka's")]);

        Assert.True(noise.Keep(e));
        Assert.True(noise.Keep(e));
        Assert.Contains("   at ", e.RenderMessage());
    }
}
