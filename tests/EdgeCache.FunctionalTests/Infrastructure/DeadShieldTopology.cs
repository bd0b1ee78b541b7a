using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>
/// One real shield (<c>shield-a</c>) and one edge whose shield cluster also names <see cref="DeadShield"/>:
/// its traffic address refuses connections, its health address is shield-a's admin endpoint, so the
/// active check finds it healthy and only the passive policy (<see cref="PassivePolicy"/>) can mark it down.
/// </summary>
public class DeadShieldTopology() : Topology(shields: 1, edges: 1)
{
    public const string DeadShield = "shield-z";

    /// <summary>The passive health policy configured on the edge's shield cluster.</summary>
    protected virtual string PassivePolicy => "TransportFailureRate";

    protected override Dictionary<string, string?> EdgeConfig(string id)
    {
        var c = base.EdgeConfig(id);
        c["ReverseProxy:Clusters:shields:HealthCheck:Passive:Policy"] = PassivePolicy;
        c[$"ReverseProxy:Clusters:shields:Destinations:{DeadShield}:Address"] = $"http://127.0.0.1:{ClosedPort()}/";
        c[$"ReverseProxy:Clusters:shields:Destinations:{DeadShield}:Health"] = Shields[0].Services.GetRequiredService<EdgeCache.Proxy.NodeEndpoints>().AdminUri!.ToString();
        return c;
    }

    /// <summary>A loopback port nothing listens on (bound once, then released).</summary>
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
