using VaeCluster.DataPlane;
using Xunit;

namespace VaeCluster.Tests.DataPlane;

/// <summary>Workers wait for the tensors they need; a broken connection ends the wait with the reason.</summary>
public sealed class ParameterArrivalTests
{
    [Fact]
    public async Task Should_release_each_waiter_once_its_tensors_are_in()
    {
        var arrival = new ParameterArrival(4);
        var first = Task.Run(() => arrival.WaitFor(2));
        var all = Task.Run(arrival.WaitForAll);
        await Task.Delay(100);
        Assert.False(first.IsCompleted);

        arrival.Have(2);
        await first.WaitAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(100);
        Assert.False(all.IsCompleted);

        arrival.Have(4);
        await all.WaitAsync(TimeSpan.FromSeconds(10));
        ParameterArrival.Complete.WaitForAll(); // parameters already in place never wait
    }

    [Fact]
    public async Task Should_end_the_wait_with_the_reason_when_the_rest_will_not_come()
    {
        var arrival = new ParameterArrival(4);
        arrival.Have(1);
        var waiting = Task.Run(() => arrival.WaitFor(3));
        await Task.Delay(100);
        arrival.Fail("the peer closed the data-plane connection");
        var error = await Assert.ThrowsAsync<WireError>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("the peer closed the data-plane connection", error.Message);
        arrival.WaitFor(1); // what did arrive is still there
    }
}
