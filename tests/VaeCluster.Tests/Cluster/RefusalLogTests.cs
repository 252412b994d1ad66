using VaeCluster.Coordinator.Cluster;
using VaeCluster.Tests.DataPlane;
using Xunit;

namespace VaeCluster.Tests.Cluster;

/// <summary>The rate limit on refusal warnings, on a clock the test moves.</summary>
public sealed class RefusalLogTests
{
    private sealed class Clock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = DateTimeOffset.UnixEpoch;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private readonly Clock clock = new();
    private readonly CapturedLog log = new();
    private readonly RefusalLog refusals;

    public RefusalLogTests() => refusals = new RefusalLog(log.Logger, TimeSpan.FromSeconds(10), clock);

    [Fact]
    public void Warns_once_per_interval_per_kind_and_counts_the_quiet_ones_in_the_next_warning()
    {
        for (int i = 0; i < 50; i++) refusals.Refused("deadline", "refused {Remote}", $"peer-{i}");
        refusals.Refused("protocol", "refused {Remote}: bad magic", "peer-x"); // another kind has its own limit
        clock.Now += TimeSpan.FromSeconds(9);
        refusals.Refused("deadline", "refused {Remote}", "peer-late");
        Assert.Equal(["refused \"peer-0\"", "refused \"peer-x\": bad magic"], log.Warnings);

        clock.Now += TimeSpan.FromSeconds(1);
        refusals.Refused("deadline", "refused {Remote}", "peer-next");
        Assert.Equal("refused \"peer-next\" (50 more refused like this since the last warning)", log.Warnings[^1]);

        refusals.Refused("deadline", "refused {Remote}", "peer-quiet");
        refusals.Flush();
        Assert.Equal("Data plane: 1 more connections refused (deadline) since the last warning", log.Warnings[^1]);
        refusals.Flush();
        Assert.Equal(4, log.Warnings.Count); // nothing left to tell
    }
}
