using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Hosting;
using System.Security.Cryptography.X509Certificates;
using Akka.Remote.Hosting;

namespace VaeCluster.Cluster;

/// <summary>Remoting and clustering, set up the same way for both roles.</summary>
public static class ClusterAkka
{
    /// <summary>
    /// Downing: a node that stays unreachable for this long is removed, so a dead worker leaves in seconds
    /// (its shard has long been given to another by then; the data plane notices a dead process at once).
    /// </summary>
    public static readonly TimeSpan StableAfter = TimeSpan.FromSeconds(5);

    public static AkkaConfigurationBuilder WithVaeCluster(
        this AkkaConfigurationBuilder akka, ClusterSettings settings, string role, IEnumerable<string> seeds) => akka
        .WithRemoting(Remoting(settings))
        .WithClustering(new ClusterOptions
        {
            Roles = [role],
            SeedNodes = seeds.Select(settings.SeedAddress).ToArray(),
            // keep-oldest: the coordinator starts first, so it is the oldest member and always survives a
            // partition; workers cut off from it down themselves and rejoin when it is reachable again.
            SplitBrainResolver = new KeepOldestOption { DownIfAlone = false },
        })
        .AddHocon($$"""
            akka.cluster.split-brain-resolver.stable-after = {{StableAfter.TotalSeconds}}s
            # Nodes come and go as a matter of course (workers exit after Bye): the membership log lines say so
            # without Akka.Remote's association warnings and stack traces.
            akka.remote.log-remote-lifecycle-events = off
            """, HoconAddMode.Prepend);

    private static RemoteOptions Remoting(ClusterSettings settings)
    {
        var options = new RemoteOptions { HostName = settings.Host, Port = settings.Port, PublicHostName = settings.AdvertisedHost };
        if (settings.TlsCertificate is null) return options;
        var certificate = X509CertificateLoader.LoadPkcs12FromFile(settings.TlsCertificate, settings.TlsPassword);
        options.EnableSsl = true;
        options.Ssl = new SslOptions
        {
            X509Certificate = certificate,
            RequireMutualAuthentication = true,
            // Nodes are reached by addresses that no certificate names; trust is the pinned certificate instead.
            ValidateCertificateHostname = false,
            CustomValidator = (peer, _, _, _, _) => peer is not null && peer.Thumbprint == certificate.Thumbprint,
        };
        return options;
    }
}
