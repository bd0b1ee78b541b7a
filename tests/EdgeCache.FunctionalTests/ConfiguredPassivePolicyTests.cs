using System.Net;
using EdgeCache.Engine;
using EdgeCache.FunctionalTests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// The passive health policy a cluster names is told of every upstream exchange: client misses,
/// pass-through requests, each attempt of a retry, and background refreshes no client waits for.
/// </summary>
public sealed class ConfiguredPassivePolicyTests(RecordingPolicyTopology cdn) : IClassFixture<RecordingPolicyTopology>
{
    private static readonly string[] ShieldIds = ["shield-a", DeadShieldTopology.DeadShield];

    private static string PathOwnedBy(string shield, string prefix)
    {
        for (var i = 0; ; i++)
        {
            var path = $"{prefix}/{i}";
            var key = CacheKey.Build("http", Topology.Site, path, HostCachePolicy.Default);
            if (ShieldIds[RendezvousHash.Pick(RendezvousHash.HashKey(key), ShieldIds.Select(RendezvousHash.HashNode).ToArray())] == shield) return path;
        }
    }

    /// <summary>What the policy heard of <paramref name="path"/>, once it heard <paramref name="count"/> exchanges: it hears
    /// of one when the forwarder has finished it, which can be just after the client read the whole response.</summary>
    private async Task<(string Destination, ForwarderError? Error)[]> RecordedAsync(string method, string path, int count)
    {
        await Topology.WaitUntilAsync(() => cdn.Policy.For(method, path).Length >= count, TimeSpan.FromSeconds(10), $"the policy heard of {count} exchanges for {path}");
        return cdn.Policy.For(method, path);
    }

    [Fact]
    public async Task Every_exchange_reaches_the_configured_policy_and_only_it_decides_health()
    {
        // A miss the live shield owns: one exchange, no error.
        var live = PathOwnedBy("shield-a", "/recorded/live");
        cdn.Origin.MapStatic(live, "live", ("Cache-Control", "max-age=600"));
        using (var r = await cdn.GetAsync(0, live)) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal([("shield-a", (ForwarderError?)null)], await RecordedAsync("GET", live, 1));

        // Misses the dead shield owns: each reports the failed attempt (with the forwarder's error), then the retry.
        for (var i = 0; i < 12; i++)
        {
            var dead = PathOwnedBy(DeadShieldTopology.DeadShield, $"/recorded/dead/{i}");
            cdn.Origin.MapStatic(dead, "dead", ("Cache-Control", "max-age=600"));
            using (var r = await cdn.GetAsync(0, dead)) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal([(DeadShieldTopology.DeadShield, ForwarderError.Request), ("shield-a", null)], await RecordedAsync("GET", dead, 2));
        }

        // This policy marks nothing: twelve failures in a row leave the dead shield in use (the
        // hand-written check marked it down after the first, whatever the configured policy).
        var state = cdn.Edges[0].Services.GetRequiredService<IProxyStateLookup>();
        Assert.True(state.TryGetCluster("shields", out var cluster));
        var shieldZ = cluster.DestinationsState.AllDestinations.Single(d => d.DestinationId == DeadShieldTopology.DeadShield);
        Assert.NotEqual(DestinationHealth.Unhealthy, shieldZ.Health.Passive);
        Assert.Contains(cluster.DestinationsState.AvailableDestinations, d => d.DestinationId == DeadShieldTopology.DeadShield);

        // Pass-through (an unsafe method) goes through the same policy.
        cdn.Origin.Map("/recorded/post", ctx => ctx.Response.WriteAsync("posted"));
        using (var r = await cdn.GetAsync(0, "/recorded/post", method: HttpMethod.Post, configure: m => m.Content = new StringContent("x")))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        Assert.NotEmpty(cdn.Policy.For("POST", "/recorded/post"));

        // A stale-while-revalidate refresh runs after the client got its answer, outside its context.
        var swr = PathOwnedBy("shield-a", "/recorded/swr");
        cdn.Origin.MapStatic(swr, "swr", ("Cache-Control", "max-age=10, stale-while-revalidate=600"));
        using (await cdn.GetAsync(0, swr))
        {
        }

        cdn.Clock.Advance(TimeSpan.FromSeconds(15));
        using (var stale = await cdn.GetAsync(0, swr))
        {
            Assert.Contains("stale-while-revalidate", stale.EdgeStatus(), StringComparison.Ordinal);
        }

        await Topology.WaitUntilAsync(() => cdn.Policy.For("GET", swr).Length == 2, because: "the background refresh is reported");
        Assert.All(cdn.Policy.For("GET", swr), e => Assert.Equal(("shield-a", (ForwarderError?)null), e));
    }
}
