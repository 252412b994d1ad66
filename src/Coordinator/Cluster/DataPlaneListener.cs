using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Serilog;
using VaeCluster.DataPlane;

namespace VaeCluster.Coordinator.Cluster;

/// <summary>
/// Accepts data-plane connections and reads each one's Hello (with a deadline, so a silent peer cannot hold a
/// socket), then hands the connection to the gateway, which decides whether it belongs to an admitted worker.
/// </summary>
public sealed class DataPlaneListener : IDisposable
{
    private static readonly TimeSpan HelloDeadline = TimeSpan.FromSeconds(5);

    private readonly TcpListener listener;
    private readonly ILogger log;
    private readonly CancellationTokenSource stop = new();

    private DataPlaneListener(TcpListener listener, ILogger log)
    {
        this.listener = listener;
        this.log = log;
    }

    /// <summary>The port actually bound (the one asked for, or a free one when 0 was asked for).</summary>
    public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

    /// <summary>Binds now, so the port is known before anyone is told where to connect.</summary>
    public static DataPlaneListener Bind(string host, int port, ILogger log)
    {
        var address = IPAddress.TryParse(host, out var ip) ? ip : Dns.GetHostAddresses(host).First();
        var listener = new TcpListener(address, port);
        listener.Start();
        return new DataPlaneListener(listener, log);
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
                log.Warning("Data plane: accept failed: {Error}", error.Message);
                continue;
            }
            _ = Task.Run(() => Handshake(socket, gateway));
        }
    }

    private void Handshake(Socket socket, IActorRef gateway)
    {
        var channel = new FrameChannel(socket);
        try
        {
            var nonce = System.Security.Cryptography.RandomNumberGenerator.GetBytes(ChallengeFrame.NonceBytes);
            channel.Send(new ChallengeFrame(nonce));
            channel.SetReceiveTimeout(HelloDeadline);
            var frame = channel.Receive();
            if (frame.Message is not HelloFrame hello || frame.PayloadBytes != 0)
                throw new WireError($"expected Hello as the first frame, got {frame.Message.Kind}");
            channel.SetReceiveTimeout(null);
            gateway.Tell(new DataPlaneConnected(channel, hello, nonce));
        }
        catch (Exception error)
        {
            log.Warning("Data plane: refused a connection from {Remote}: {Reason}", channel.Remote, error.Message);
            channel.Dispose();
        }
    }

    public void Dispose()
    {
        stop.Cancel();
        listener.Stop();
    }
}
