using System.Net;
using EdgeCache.Engine;
using EdgeCache.FunctionalTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace EdgeCache.FunctionalTests;

/// <summary>The passive health policy configured in <c>ReverseProxy</c> (here YARP's TransportFailureRate) decides when a shield is down.</summary>
public sealed class PassiveHealthTests(DeadShieldTopology cdn) : IClassFixture<DeadShieldTopology>
{
    private static readonly string[] ShieldIds = ["shield-a", DeadShieldTopology.DeadShield];

    private static string Owner(string path)
    {
        var key = CacheKey.Build("http", Topology.Site, path, HostCachePolicy.Default);
        return ShieldIds[RendezvousHash.Pick(RendezvousHash.HashKey(key), ShieldIds.Select(RendezvousHash.HashNode).ToArray())];
    }

    private DestinationState DeadShield()
    {
        var state = cdn.Edges[0].Services.GetRequiredService<IProxyStateLookup>();
        Assert.True(state.TryGetCluster("shields", out var cluster));
        return cluster.DestinationsState.AllDestinations.Single(d => d.DestinationId == DeadShieldTopology.DeadShield);
    }

    private bool DeadShieldAvailable()
    {
        var state = cdn.Edges[0].Services.GetRequiredService<IProxyStateLookup>();
        Assert.True(state.TryGetCluster("shields", out var cluster));
        return cluster.DestinationsState.AvailableDestinations.Any(d => d.DestinationId == DeadShieldTopology.DeadShield);
    }

    /// <summary>A new path the consistent hash gives to the dead shield, mapped on the origin.</summary>
    private string NextDeadShieldPath(ref int n)
    {
        string path;
        do
        {
            path = $"/passive/{n++}";
        }
        while (Owner(path) != DeadShieldTopology.DeadShield);
        cdn.Origin.MapStatic(path, "object " + path, ("Cache-Control", "max-age=600"));
        return path;
    }

    private async Task MissAsync(string path)
    {
        using var r = await cdn.GetAsync(0, path);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("object " + path, await r.BodyAsync());

        // The one retry on the next shield: every miss the dead shield owns is served by shield-a.
        Assert.Equal("shield-a", r.Header("Via").Split(", ")[0].Split(' ')[1]);
    }

    [Fact]
    public async Task One_connection_failure_does_not_mark_a_shield_unhealthy_but_a_sustained_failure_rate_does()
    {
        var admin = cdn.Edges[0].Services.GetRequiredService<EdgeCache.Proxy.NodeEndpoints>().AdminUri!;
        await Topology.WaitUntilAsync(() => DeadShield().Health.Active == DestinationHealth.Healthy, because: "the active check (shield-a's /readyz) passes for the dead shield");
        var n = 0;

        // One connection failure: TransportFailureRate needs a minimum number of requests in its window
        // before it rates a destination, so the shield stays available (the old code marked it down here).
        await MissAsync(NextDeadShieldPath(ref n));
        Assert.NotEqual(DestinationHealth.Unhealthy, DeadShield().Health.Passive);
        Assert.True(DeadShieldAvailable(), "one failure took the shield out of the available destinations");
        Assert.Contains("upstreams: 2 of 2 healthy", await cdn.Client.GetStringAsync(new Uri(admin, "/readyz")), StringComparison.Ordinal);

        // Sustained failures (every request to it fails, above the 30% limit): the policy marks it
        // unhealthy, and the edge stops sending it traffic; no client request fails on the way.
        var sent = 1;
        await Topology.WaitUntilAsync(
            async () =>
            {
                await MissAsync(NextDeadShieldPath(ref n));
                sent++;
                return DeadShield().Health.Passive == DestinationHealth.Unhealthy;
            },
            "the failure rate marks the dead shield unhealthy");
        Assert.InRange(sent, 2, 30);
        await Topology.WaitUntilAsync(() => !DeadShieldAvailable(), because: "YARP takes the unhealthy shield out of the available destinations");
        Assert.Contains("upstreams: 1 of 2 healthy", await cdn.Client.GetStringAsync(new Uri(admin, "/readyz")), StringComparison.Ordinal);
        await MissAsync(NextDeadShieldPath(ref n));
    }
}
