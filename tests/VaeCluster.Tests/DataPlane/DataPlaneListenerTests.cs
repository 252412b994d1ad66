using System.Diagnostics;
using Akka.TestKit.Xunit2;
using VaeCluster.Coordinator.Cluster;
using VaeCluster.DataPlane;
using Xunit;

namespace VaeCluster.Tests.DataPlane;

/// <summary>
/// Strangers on the data-plane port, as raw sockets against a real listener, with a TestProbe as the gateway:
/// what they can cost the coordinator before proving anything. One at a time: one test counts the bytes the
/// whole process allocates.
/// </summary>
[Collection(Name)]
public sealed class DataPlaneListenerTests : TestKit, IDisposable
{
    public const string Name = "data-plane listener, alone";

    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class Alone;

    private readonly Akka.TestKit.TestProbe gateway;
    private readonly CapturedLog log = new();
    private DataPlaneListener? listener;

    public DataPlaneListenerTests() => gateway = CreateTestProbe();

    void IDisposable.Dispose()
    {
        listener?.Dispose();
        Shutdown();
    }

    private int Listen(TimeSpan deadline, int maxPending = 64)
    {
        listener = DataPlaneListener.Bind("127.0.0.1", 0, log.Logger, new HandshakeLimits(deadline, maxPending, TimeSpan.FromSeconds(10)));
        listener.AcceptInto(gateway.Ref);
        return listener.Port;
    }

    [Fact]
    public void A_peer_trickling_its_Hello_is_dropped_at_the_handshake_deadline_not_kept_by_each_byte()
    {
        var deadline = TimeSpan.FromSeconds(1.5);
        using var peer = new RawPeer(Listen(deadline));
        var clock = Stopwatch.StartNew();
        peer.ReadChallenge();
        // A whole, valid Hello, one byte every 200 ms: each byte well inside any per-receive timeout.
        var hello = RawPeer.Frame(new HelloFrame("slow", "token"));
        var trickle = Task.Run(async () =>
        {
            try
            {
                foreach (byte b in hello)
                {
                    peer.Socket.Send([b]);
                    await Task.Delay(200);
                }
            }
            catch (System.Net.Sockets.SocketException) { } // dropped, as it should be
            catch (ObjectDisposedException) { }
        });

        Assert.True(peer.ClosedWithin(TimeSpan.FromSeconds(6)), "the trickling peer was never dropped");
        Assert.InRange(clock.Elapsed.TotalSeconds, 1.2, 3.5);
        Assert.False(trickle.IsCompleted, "the Hello must still have been on its way when the connection was closed");
        gateway.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        AwaitAssert(() => Assert.Contains(log.Warnings, w => w.Contains("no Hello within the 1.5 s handshake deadline")));
    }

    [Fact]
    public void A_Hello_announcing_a_huge_header_is_refused_on_its_prefix_without_allocating_the_header()
    {
        const int peers = 16;
        const int announced = FrameChannel.MaxHeaderBytes; // 8 MiB each: 128 MiB if the listener believed them
        int port = Listen(deadline: TimeSpan.FromSeconds(30));
        using (var warmUp = new RawPeer(port)) warmUp.ReadChallenge(); // JIT and first-use allocations out of the count

        long before = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        var strangers = Enumerable.Range(0, peers).Select(_ => new RawPeer(port)).ToList();
        try
        {
            foreach (var s in strangers)
            {
                s.ReadChallenge();
                s.Socket.Send(RawPeer.Prefix(FrameKind.Hello, announced, payloadBytes: 0)); // and never the header
            }
            Assert.All(strangers, s => Assert.True(s.ClosedWithin(TimeSpan.FromSeconds(5)), "still open"));
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}: the listener waited for headers that never came");
            Assert.True(allocated < 16L << 20, $"{allocated >> 20} MiB allocated for {peers} refused handshakes");
        }
        finally
        {
            foreach (var s in strangers) s.Dispose();
        }
        gateway.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        AwaitAssert(() => Assert.Contains(log.Warnings, w => w.Contains($"Hello header of {announced} bytes is out of range")));
    }

    [Fact]
    public void More_connections_than_the_cap_do_not_keep_a_proper_worker_from_completing_its_handshake()
    {
        const int cap = 4, silent = 10;
        int port = Listen(deadline: TimeSpan.FromSeconds(30), maxPending: cap);
        var strangers = new List<RawPeer>();
        try
        {
            for (int i = 0; i < silent; i++)
            {
                strangers.Add(new RawPeer(port));
                strangers[^1].ReadChallenge(); // accepted in this order
            }

            using var worker = FrameChannel.Connect("127.0.0.1", port, TimeSpan.FromSeconds(5));
            worker.SetReceiveTimeout(TimeSpan.FromSeconds(5));
            Assert.IsType<ChallengeFrame>(worker.Receive().Message);
            worker.Send(new HelloFrame("w1", "token"));
            Assert.Equal("w1", gateway.ExpectMsg<DataPlaneConnected>().Hello.WorkerId);

            // At most `cap` waited at once: the oldest strangers gave way, the newest still wait.
            int dropped = silent + 1 - cap;
            Assert.All(strangers.Take(dropped), s => Assert.True(s.ClosedWithin(TimeSpan.FromSeconds(5)), "an old stranger was kept"));
            Assert.All(strangers.Skip(dropped), s => Assert.False(s.ClosedWithin(TimeSpan.FromMilliseconds(200)), "a recent stranger was dropped"));
            AwaitAssert(() => Assert.Single(log.Warnings, w => w.Contains("gave way"))); // one warning for all of them
        }
        finally
        {
            foreach (var s in strangers) s.Dispose();
        }
    }

    [Fact]
    public void Refusals_are_warned_about_once_per_interval_and_the_rest_are_counted()
    {
        const int cycles = 200;
        int port = Listen(deadline: TimeSpan.FromSeconds(5), maxPending: 2 * cycles); // only one kind of refusal here
        for (int i = 0; i < cycles; i++)
            using (new RawPeer(port)) { } // connect and close at once

        // The accept loop takes connections in order: once a later worker is through, every cycle was accepted.
        using var worker = FrameChannel.Connect("127.0.0.1", port, TimeSpan.FromSeconds(5));
        worker.SetReceiveTimeout(TimeSpan.FromSeconds(5));
        Assert.IsType<ChallengeFrame>(worker.Receive().Message);
        worker.Send(new HelloFrame("w1", "token"));
        gateway.ExpectMsg<DataPlaneConnected>();
        Thread.Sleep(500); // the refused handshakes end as soon as they read the close

        Assert.Single(log.Warnings);
        listener!.Dispose(); // tells what it kept quiet about
        Assert.Equal(2, log.Warnings.Count);
        Assert.Contains($"{cycles - 1} more connections refused (closed)", log.Warnings[1]);
    }
}
