using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Akka.Actor;
using Serilog;
using VaeCluster.DataPlane;

namespace VaeCluster.Coordinator.Cluster;

/// <summary>
/// Accepts data-plane connections, challenges each one and reads its Hello, then hands the connection to the
/// gateway, which decides whether it belongs to an admitted worker. Everything before that decision comes from
/// a peer that has proved nothing, so it is made cheap to suffer: the handshake is asynchronous (a silent or
/// trickling peer holds no thread), one deadline covers all of it (not each receive), the Hello's size is
/// checked before its bytes are read, at most <see cref="HandshakeLimits.MaxPending"/> handshakes wait at once,
/// and refusals are logged at a limited rate.
/// </summary>
public sealed class DataPlaneListener : IDisposable
{
    private sealed class Handshake(CancellationToken stop)
    {
        public CancellationTokenSource Cancel { get; } = CancellationTokenSource.CreateLinkedTokenSource(stop);
        public volatile bool Crowded;
        public LinkedListNode<Handshake>? Node;
    }

    private readonly TcpListener listener;
    private readonly HandshakeLimits limits;
    private readonly RefusalLog refusals;
    private readonly CancellationTokenSource stop = new();
    private readonly LinkedList<Handshake> pending = new(); // oldest first; guarded by itself

    private DataPlaneListener(TcpListener listener, HandshakeLimits limits, ILogger log)
    {
        this.listener = listener;
        this.limits = limits;
        refusals = new RefusalLog(log, limits.WarnEvery);
    }

    /// <summary>The port actually bound (the one asked for, or a free one when 0 was asked for).</summary>
    public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

    /// <summary>Binds now, so the port is known before anyone is told where to connect.</summary>
    public static DataPlaneListener Bind(string host, int port, ILogger log, HandshakeLimits? limits = null)
    {
        var address = IPAddress.TryParse(host, out var ip) ? ip : Dns.GetHostAddresses(host).First();
        var listener = new TcpListener(address, port);
        listener.Start();
        return new DataPlaneListener(listener, limits ?? HandshakeLimits.Default, log);
    }

    /// <summary>Starts accepting; each connection that says Hello goes to the gateway.</summary>
    public void AcceptInto(IActorRef gateway) => _ = Task.Run(() => AcceptLoop(gateway));

    private async Task AcceptLoop(IActorRef gateway)
    {
        while (!stop.IsCancellationRequested)
        {
            Socket socket;
            try { socket = await listener.AcceptSocketAsync(stop.Token); }
            catch (Exception) when (stop.IsCancellationRequested) { return; }
            catch (SocketException error)
            {
                // E.g. out of file descriptors: pause rather than spin, and say so at a limited rate.
                refusals.Refused("accept", "Data plane: accept failed: {Error}", error.Message);
                await Task.Delay(100);
                continue;
            }
            _ = HandshakeAsync(socket, gateway); // runs until its first wait, then frees this loop
        }
    }

    private async Task HandshakeAsync(Socket socket, IActorRef gateway)
    {
        var handshake = Enter();
        handshake.Cancel.CancelAfter(limits.Deadline); // one deadline for the whole exchange, however the bytes trickle in
        FrameChannel? channel = null;
        try
        {
            channel = new FrameChannel(socket);
            var nonce = RandomNumberGenerator.GetBytes(ChallengeFrame.NonceBytes);
            await channel.SendAsync(new ChallengeFrame(nonce), handshake.Cancel.Token);
            var hello = (HelloFrame)await channel.ReceiveHandshakeAsync(FrameKind.Hello, handshake.Cancel.Token);
            Leave(handshake);
            gateway.Tell(new DataPlaneConnected(channel, hello, nonce));
        }
        catch (Exception error)
        {
            string remote = channel?.Remote ?? "?";
            if (channel is null) socket.Dispose();
            else channel.Dispose();
            if (!stop.IsCancellationRequested) Refuse(handshake, remote, error);
        }
        finally
        {
            Leave(handshake);
            handshake.Cancel.Dispose();
        }
    }

    private void Refuse(Handshake handshake, string remote, Exception error)
    {
        var (kind, reason) = error switch
        {
            OperationCanceledException when handshake.Crowded =>
                ("crowded", $"more than {limits.MaxPending} connections were waiting to complete their handshake; the oldest gave way"),
            OperationCanceledException => ("deadline", $"no Hello within the {limits.Deadline.TotalSeconds:0.#} s handshake deadline"),
            WireError => ("protocol", error.Message),
            EndOfStreamException or SocketException => ("closed", error.Message),
            _ => ("error", $"{error.GetType().Name}: {error.Message}"),
        };
        refusals.Refused(kind, "Data plane: refused a connection from {Remote}: {Reason}", remote, reason);
    }

    /// <summary>
    /// Counts a handshake as pending; past the cap the oldest pending one is dropped. The newest gets the room
    /// because a worker's own handshake takes one round trip, while a connection that has waited longest is the
    /// likeliest to be stalling: to crowd a worker out, a flood must now outpace its round trip, not just hold
    /// a few sockets open.
    /// </summary>
    private Handshake Enter()
    {
        var handshake = new Handshake(stop.Token);
        Handshake? oldest = null;
        lock (pending)
        {
            handshake.Node = pending.AddLast(handshake);
            if (pending.Count > limits.MaxPending)
            {
                oldest = pending.First!.Value;
                pending.RemoveFirst();
                oldest.Node = null;
            }
        }
        if (oldest is not null)
        {
            oldest.Crowded = true;
            try { oldest.Cancel.Cancel(); } catch (ObjectDisposedException) { /* it finished meanwhile */ }
        }
        return handshake;
    }

    private void Leave(Handshake handshake)
    {
        lock (pending)
        {
            if (handshake.Node is null) return;
            pending.Remove(handshake.Node);
            handshake.Node = null;
        }
    }

    public void Dispose()
    {
        stop.Cancel();
        listener.Stop();
        refusals.Flush();
    }
}

/// <summary>
/// What an unauthenticated data-plane connection may cost the coordinator. A worker's handshake is one round
/// trip, so 5 s is ample even across a slow network; 64 waiting handshakes are far more than workers ever open
/// at once, while a flood of them stays small (a few KB each).
/// </summary>
/// <param name="Deadline">From accept to a complete Hello; a peer still sending then is dropped.</param>
/// <param name="MaxPending">Handshakes in progress at once; each one past it drops the oldest.</param>
/// <param name="WarnEvery">At most one warning per kind of refusal in this interval (RefusalLog).</param>
public sealed record HandshakeLimits(TimeSpan Deadline, int MaxPending, TimeSpan WarnEvery)
{
    public static readonly HandshakeLimits Default = new(TimeSpan.FromSeconds(5), 64, TimeSpan.FromSeconds(10));
}
