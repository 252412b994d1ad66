using VaeCluster.Coordinator.Web;
using VaeCluster.Tests.Deploy;
using Xunit;
using static VaeCluster.Tests.Deploy.DeployedNodes;

namespace VaeCluster.Tests.Web;

/// <summary>deploy/k8s probes the coordinator where its dashboard really listens.</summary>
public sealed class KubernetesProbeTests
{
    [Fact]
    public void Should_probe_healthz_and_readyz_on_the_port_the_coordinator_serves()
    {
        var container = Container(CoordinatorJob);
        Assert.Equal("/healthz", container.Map("livenessProbe").Map("httpGet").Text("path"));
        Assert.Equal("/readyz", container.Map("readinessProbe").Map("httpGet").Text("path"));
        Assert.All(new[] { "livenessProbe", "readinessProbe" }, p => Assert.Equal("http", container.Map(p).Map("httpGet").Text("port")));

        var http = container.Seq("ports").Maps().Single(p => p.Text("name") == "http").Text("containerPort");
        Assert.True(DashboardAddress.TryParse(KubernetesCoordinator.Value("--http"), out var address, out var problem), problem);
        Assert.Equal(http, address!.Port.ToString());
        Assert.Equal("0.0.0.0", address.Host.ToString()); // probes come from the kubelet, not from loopback
    }
}
