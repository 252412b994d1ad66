using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using VaeCluster.Cluster;
using VaeCluster.Hosting;
using Xunit;

namespace VaeCluster.Tests.Cluster;

/// <summary>How a node's cluster transport and downing are set up, and the key the secret gives.</summary>
public sealed class ClusterAkkaTests
{
    [Fact]
    public void The_same_secret_gives_every_node_a_certificate_with_the_same_public_key_and_another_secret_another_key()
    {
        using var a = ClusterTransportKey.CertificateFor("correct horse battery staple");
        using var b = ClusterTransportKey.CertificateFor("correct horse battery staple");
        using var stranger = ClusterTransportKey.CertificateFor("Tr0ub4dor&3");
        Assert.True(a.HasPrivateKey);
        Assert.NotEqual(a.GetRawCertData(), b.GetRawCertData()); // ECDSA signatures are randomised: pin the key, not the certificate
        Assert.True(ClusterTransportKey.SameKey(b, a));
        Assert.False(ClusterTransportKey.SameKey(stranger, a));
        Assert.False(ClusterTransportKey.SameKey(null, a));
    }

    [Fact]
    public async Task A_node_with_a_secret_runs_its_transport_over_tls_and_downs_only_through_the_coordinator()
    {
        var settings = new ClusterSettings { Port = 0, Secret = "correct horse battery staple" };
        using var host = AkkaHost.Build(Serilog.Core.Logger.None, akka => akka.WithVaeCluster(settings, ClusterDefaults.WorkerRole, seeds: []));
        await host.StartAsync();
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            var cluster = Akka.Cluster.Cluster.Get(system);
            Assert.Equal("akka.ssl.tcp", cluster.SelfAddress.Protocol);
            Assert.IsType<CoordinatorDowningProvider>(cluster.DowningProvider);
            Assert.StartsWith("akka.ssl.tcp://", settings.SeedAddress("127.0.0.1:4053"));
        }
        finally
        {
            await host.StopWithinDeadlineAsync();
        }
    }
}
