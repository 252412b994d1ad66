using Akka.Cluster.Hosting;
using Akka.Hosting;
using System.Security.Cryptography.X509Certificates;
using Akka.Remote.Hosting;

namespace VaeCluster.Cluster;

/// <summary>Remoting and clustering, set up the same way for both roles.</summary>
public static class ClusterAkka
{
    /// <summary>
    /// Downing: the coordinator removes a member that stays unreachable this long, so a dead worker leaves in
    /// seconds (its shard has long been given to another by then; the data plane notices a dead process at once).
    /// </summary>
    public static readonly TimeSpan DownAfter = TimeSpan.FromSeconds(5);

    public static AkkaConfigurationBuilder WithVaeCluster(
        this AkkaConfigurationBuilder akka, ClusterSettings settings, string role, IEnumerable<string> seeds) => akka
        .WithRemoting(Remoting(settings))
        .WithClustering(new ClusterOptions
        {
            Roles = [role],
            SeedNodes = seeds.Select(settings.SeedAddress).ToArray(),
        })
        .AddHocon($$"""
            # Only the coordinator downs, and nobody downs the coordinator (CoordinatorDowningProvider says why
            # Akka's split-brain resolver does not fit a cluster of one coordinator and replaceable workers).
            akka.cluster.downing-provider-class = "{{CoordinatorDowningProvider.ConfigName}}"
            # Nodes come and go as a matter of course (workers exit after Bye): the membership log lines say so
            # without Akka.Remote's association warnings and stack traces.
            akka.remote.log-remote-lifecycle-events = off
            # SIGTERM is the run's to handle (StopSignals): Akka's own hook would tear the ActorSystem down at
            # once, before the coordinator says Bye to its workers and before a worker leaves cleanly.
            akka.coordinated-shutdown.run-by-clr-shutdown-hook = off
            """, HoconAddMode.Prepend);

    private static RemoteOptions Remoting(ClusterSettings settings)
    {
        var options = new RemoteOptions { HostName = settings.Host, Port = settings.Port, PublicHostName = settings.AdvertisedHost };
        if (settings.TlsCertificate is not null)
        {
            var pinned = X509CertificateLoader.LoadPkcs12FromFile(settings.TlsCertificate, settings.TlsPassword);
            return WithMutualTls(options, pinned, peer => peer is not null && peer.Thumbprint == pinned.Thumbprint);
        }
        if (!string.IsNullOrEmpty(settings.Secret))
        {
            var derived = ClusterTransportKey.CertificateFor(settings.Secret);
            return WithMutualTls(options, derived, peer => ClusterTransportKey.SameKey(peer, derived));
        }
        return options;
    }

    private static RemoteOptions WithMutualTls(RemoteOptions options, X509Certificate2 certificate, Func<X509Certificate2?, bool> trusted)
    {
        options.EnableSsl = true;
        options.Ssl = new SslOptions
        {
            X509Certificate = certificate,
            RequireMutualAuthentication = true,
            // Nodes are reached by addresses that no certificate names; trust is the pinned certificate or key instead.
            ValidateCertificateHostname = false,
            CustomValidator = (peer, _, _, _, _) => trusted(peer),
        };
        return options;
    }
}
