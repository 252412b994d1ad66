using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using VaeCluster.DataPlane;
using VaeCluster.Protocol;
using Xunit;

namespace VaeCluster.Tests.DataPlane;

/// <summary>
/// The coordinator's TCP links send parameters one at a time, each turn lasting until its bytes are acknowledged,
/// and a stuck link holds the others back only so long.
/// </summary>
public sealed class SendTurnsTests
{
    [Fact]
    public void Should_let_one_link_send_at_a_time()
    {
        using var pair = new LoopbackPair();
        using var channel = new FrameChannel(pair.Left);
        var turns = new SendTurns();
        int sending = 0, most = 0;
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ => turns.Take(channel, () =>
        {
            int now = Interlocked.Increment(ref sending);
            InterlockedMax(ref most, now);
            Thread.Sleep(20);
            Interlocked.Decrement(ref sending);
        }));
        Assert.Equal(1, most);
    }

    [Fact]
    public async Task Should_send_alongside_a_link_that_holds_its_turn_past_the_patience()
    {
        using var pair = new LoopbackPair();
        using var channel = new FrameChannel(pair.Left);
        var turns = new SendTurns(TimeSpan.FromMilliseconds(200));
        using var release = new ManualResetEventSlim();
        using var holding = new ManualResetEventSlim();
        var stuck = Task.Run(() => turns.Take(channel, () => { holding.Set(); release.Wait(TimeSpan.FromSeconds(10)); }));
        Assert.True(holding.Wait(TimeSpan.FromSeconds(10)));

        var waited = Stopwatch.StartNew();
        bool sent = false;
        turns.Take(channel, () => sent = true);
        waited.Stop();
        release.Set();
        await stuck.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(sent);
        Assert.InRange(waited.Elapsed, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(5));
        turns.Take(channel, () => { }); // and the turn is free again afterwards
    }

    [Fact]
    public async Task Should_wait_until_the_peer_has_acknowledged_what_was_sent_or_the_deadline()
    {
        if (!OperatingSystem.IsLinux()) return; // elsewhere the kernel cannot say, and the wait returns at once
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Server.ReceiveBufferSize = 16 << 10; // a peer with little room, which does not read yet
        listener.Start();
        using var left = new Socket(SocketType.Stream, ProtocolType.Tcp);
        left.Connect(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var right = listener.AcceptSocket();
        using var channel = new FrameChannel(left);
        channel.Send(new ByeFrame(new string('x', 1 << 20)));

        var blocked = Stopwatch.StartNew();
        channel.WaitUntilAcknowledged(SendTurns.LeftBytes, DateTime.UtcNow + TimeSpan.FromMilliseconds(300));
        Assert.True(blocked.Elapsed >= TimeSpan.FromMilliseconds(250), $"returned after {blocked.ElapsedMilliseconds} ms with the peer not reading");

        var reader = Task.Run(() => { var buffer = new byte[1 << 16]; while (right.Receive(buffer) > 0) { } });
        var drained = Stopwatch.StartNew();
        channel.WaitUntilAcknowledged(SendTurns.LeftBytes, DateTime.UtcNow + TimeSpan.FromSeconds(10));
        Assert.True(drained.Elapsed < TimeSpan.FromSeconds(5), "the wait did not end once the peer read");
        left.Shutdown(SocketShutdown.Both);
        await reader.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }
}
