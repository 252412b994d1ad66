using System.Net;
using VaeCluster.Coordinator.Web;
using Xunit;

namespace VaeCluster.Tests.Web;

/// <summary>--http HOST:PORT, as the train and coordinator commands read it.</summary>
public sealed class DashboardAddressTests
{
    [Fact]
    public void Should_default_to_loopback_8080_with_fallback()
    {
        Assert.True(DashboardAddress.TryParse(null, out var address, out _));
        Assert.Equal(new DashboardAddress(IPAddress.Loopback, 8080, Explicit: false), address);
    }

    [Fact]
    public void Should_turn_the_server_off() =>
        Assert.True(DashboardAddress.TryParse("off", out var address, out _) && address is null);

    [Theory]
    [InlineData("127.0.0.1:9090", "127.0.0.1", 9090)]
    [InlineData("0.0.0.0:0", "0.0.0.0", 0)]
    [InlineData("localhost:8081", "127.0.0.1", 8081)]
    [InlineData("[::1]:8080", "::1", 8080)]
    public void Should_read_an_explicit_address(string text, string host, int port)
    {
        Assert.True(DashboardAddress.TryParse(text, out var address, out _));
        Assert.Equal(new DashboardAddress(IPAddress.Parse(host), port, Explicit: true), address);
    }

    [Theory]
    [InlineData("nonsense", "expects HOST:PORT")]
    [InlineData("127.0.0.1:", "expects HOST:PORT")]
    [InlineData("127.0.0.1:99999", "from 0 to 65535")]
    [InlineData("127.0.0.1:-1", "from 0 to 65535")]
    [InlineData("example.org:8080", "IP address")]
    public void Should_refuse_what_is_no_address_in_one_line(string text, string problem)
    {
        Assert.False(DashboardAddress.TryParse(text, out _, out var message));
        Assert.Contains(problem, message);
        Assert.DoesNotContain('\n', message!);
    }
}
