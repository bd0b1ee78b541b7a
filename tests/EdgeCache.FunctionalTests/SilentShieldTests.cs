using System.Net;
using EdgeCache.Engine;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// Two shields; the edge reaches shield-b (traffic and health checks) through <see cref="TcpProxy"/>s that can
/// stall, as a network cut that drops packets does: shield-b takes a request and never answers it. The edge's
/// <c>ResponseTimeout</c> is 20 s, longer than any wait here, so only the health checks can end such a request.
/// </summary>
public sealed class SilentShieldTopology() : Topology(shields: 2, edges: 1)
{
    public TcpProxy Traffic { get; private set; } = null!;

    public TcpProxy Health { get; private set; } = null!;

    protected override Dictionary<string, string?> EdgeConfig(string id)
    {
        var c = base.EdgeConfig(id);
        var b = Shields[1].Services.GetRequiredService<NodeEndpoints>();
        Traffic = new TcpProxy(b.TrafficUri().Port);
        Health = new TcpProxy(b.AdminUri!.Port);
        c["ReverseProxy:Clusters:shields:Destinations:shield-b:Address"] = $"http://127.0.0.1:{Traffic.Port}/";
        c["ReverseProxy:Clusters:shields:Destinations:shield-b:Health"] = $"http://127.0.0.1:{Health.Port}/";
        // A probe may take 1 s (not the base's 250 ms) before it counts as failed, so that a loaded machine does
        // not mark a working shield-b down in the slow-origin test; a stall is still found in about 2.5 s.
        c["ReverseProxy:Clusters:shields:HealthCheck:Active:Timeout"] = "00:00:01";
        c["EdgeCache:Defaults:ResponseTimeout"] = "00:00:20";
        c["EdgeCache:Defaults:TransferTimeout"] = "00:00:25";
        return c;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Traffic.DisposeAsync();
        await Health.DisposeAsync();
    }
}

/// <summary>
/// A shield that goes silent with requests in flight (its host cut off: packets dropped, so no connection is
/// refused or reset) is given up once its health checks mark it down, and the requests are retried on the next
/// shield, instead of waiting out the host's ResponseTimeout; a shield that is only waiting on a slow origin is
/// never given up (a second shield would fetch from the origin again).
/// </summary>
public sealed class SilentShieldTests(SilentShieldTopology cdn) : IClassFixture<SilentShieldTopology>
{
    private static readonly string[] ShieldIds = ["shield-a", "shield-b"];

    private long Abandoned => cdn.Edges[0].Metric("edgecache.upstream.abandoned");

    private long ShieldDownRetries => cdn.Edges[0].Metric("edgecache.upstream.retries", ("edgecache.reason", "shield-down"));

    private static string Owner(string path)
    {
        var key = CacheKey.Build("http", Topology.Site, path, HostCachePolicy.Default);
        return ShieldIds[RendezvousHash.Pick(RendezvousHash.HashKey(key), ShieldIds.Select(RendezvousHash.HashNode).ToArray())];
    }

    private static string ShieldBPath(string prefix)
    {
        for (var n = 0; ; n++)
        {
            var path = $"/silent/{prefix}/{Guid.NewGuid():N}/{n}";
            if (Owner(path) == "shield-b") return path;
        }
    }

    private bool ShieldBHealthy() => cdn.Edges[0].Metric("edgecache.upstream.healthy", ("destination", "shield-b")) == 1;

    /// <summary>shield-b reachable again and held healthy by the edge (its probes pass).</summary>
    private async Task HealAsync()
    {
        cdn.Traffic.Resume();
        cdn.Health.Resume();
        var probes = cdn.Health.RequestChunks;
        await Topology.WaitUntilAsync(() => cdn.Health.RequestChunks >= probes + 2 && ShieldBHealthy(), TimeSpan.FromSeconds(10), "shield-b is healthy again");
    }

    /// <summary>Sends <paramref name="method"/> for <paramref name="path"/> (owned by shield-b) while shield-b is silent:
    /// it must come back whole from shield-a once the edge's checks mark shield-b down, the origin asked once.</summary>
    private async Task AssertServedPastSilentShieldBAsync(string path, string body, HttpMethod method)
    {
        await HealAsync();
        var abandoned = Abandoned;
        var retries = ShieldDownRetries;
        try
        {
            cdn.Traffic.Stall();
            cdn.Health.Stall();
            using var r = await cdn.GetAsync(0, path, method: method);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(body, await r.BodyAsync());
            Assert.Equal("shield-a", r.Header("Via").Split(", ")[0].Split(' ')[1]);

            // The silent shield never reached the origin; shield-a asked it once.
            Assert.Equal(1, cdn.Origin.Count(path));
            Assert.Equal(abandoned + 1, Abandoned);
            Assert.Equal(retries + 1, ShieldDownRetries);
            Assert.False(ShieldBHealthy());
        }
        finally
        {
            await HealAsync();
        }
    }

    [Fact]
    public async Task A_miss_sent_to_a_shield_that_goes_silent_is_retried_on_the_next_shield_once_its_health_checks_mark_it_down()
    {
        var path = ShieldBPath("miss");
        cdn.Origin.MapStatic(path, "object " + path, ("Cache-Control", "max-age=600"));
        await AssertServedPastSilentShieldBAsync(path, "object " + path, HttpMethod.Get);
    }

    [Fact]
    public async Task An_OPTIONS_request_passed_to_a_shield_that_goes_silent_is_retried_on_the_next_shield_once_its_health_checks_mark_it_down()
    {
        // OPTIONS is passed (never looked up nor stored), and may be retried: it is idempotent and has no body.
        var path = ShieldBPath("pass");
        cdn.Origin.MapStatic(path, "private " + path, ("Cache-Control", "private"));
        await AssertServedPastSilentShieldBAsync(path, "private " + path, HttpMethod.Options);
    }

    [Fact]
    public async Task A_shield_waiting_on_a_slow_origin_is_not_given_up_while_its_health_checks_pass()
    {
        await HealAsync();
        var path = ShieldBPath("slow");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cdn.Origin.Map(path, async ctx =>
        {
            await release.Task;
            ctx.Response.Headers.CacheControl = "max-age=600";
            await ctx.Response.WriteAsync("slow " + path);
        });
        var abandoned = Abandoned;
        var pending = cdn.GetAsync(0, path);

        // The origin answers only after the edge has probed shield-b four more times (the watch reads the
        // health checks at a quarter of their interval, so it has looked many times) and still holds it healthy.
        await Topology.WaitUntilAsync(() => cdn.Origin.Count(path) == 1, TimeSpan.FromSeconds(10), "shield-b asked the origin");
        var probes = cdn.Health.RequestChunks;
        await Topology.WaitUntilAsync(() => cdn.Health.RequestChunks >= probes + 4, TimeSpan.FromSeconds(10), "four more probes of shield-b");
        Assert.True(ShieldBHealthy());
        release.SetResult();

        using var r = await pending;
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("slow " + path, await r.BodyAsync());
        Assert.Equal("shield-b", r.Header("Via").Split(", ")[0].Split(' ')[1]);
        Assert.Equal(1, cdn.Origin.Count(path));
        Assert.Equal(abandoned, Abandoned);
    }
}
