using System.Net;
using EdgeCache.Engine;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// Two shields that replicate (<c>Replication:Enabled</c>), each naming both in its <c>peers</c> cluster, and two
/// edges. Every path to shield-a (its traffic and its health checks, from the edges and from shield-b) goes through
/// <see cref="TcpProxy"/>s, so a test can take shield-a off the network as a dead host would be (connections closed
/// and refused) and bring it back, without restarting it.
/// </summary>
public sealed class ReplicationTopology() : Topology(shields: 2, edges: 2)
{
    /// <summary>shield-a's traffic and admin ports, as every other node reaches them.</summary>
    public TcpProxy ATraffic { get; } = new(0);

    public TcpProxy AAdmin { get; } = new(0);

    protected override Dictionary<string, string?> ShieldConfig(string id)
    {
        var c = base.ShieldConfig(id);
        c["EdgeCache:Replication:Enabled"] = "true";
        c["EdgeCache:Replication:Cluster"] = "peers";
        c["ReverseProxy:Clusters:peers:HealthCheck:AvailableDestinationsPolicy"] = "HealthyOrPanic";
        c["ReverseProxy:Clusters:peers:HealthCheck:Active:Enabled"] = "true";
        c["ReverseProxy:Clusters:peers:HealthCheck:Active:Interval"] = HealthInterval.ToString();
        c["ReverseProxy:Clusters:peers:HealthCheck:Active:Timeout"] = "00:00:01";
        c["ReverseProxy:Clusters:peers:HealthCheck:Active:Policy"] = "ConsecutiveFailures";
        c["ReverseProxy:Clusters:peers:HealthCheck:Active:Path"] = "/readyz";
        c["ReverseProxy:Clusters:peers:Destinations:shield-a:Address"] = $"http://127.0.0.1:{ATraffic.Port}/";
        c["ReverseProxy:Clusters:peers:Destinations:shield-a:Health"] = $"http://127.0.0.1:{AAdmin.Port}/";
        if (id == "shield-b")
        {
            // shield-a has started (its ports are known); shield-b's own are not yet: it names itself by a port it
            // never calls (a shield never fills from itself).
            var a = Shields[0].Services.GetRequiredService<NodeEndpoints>();
            ATraffic.TargetPort = a.TrafficUri().Port;
            AAdmin.TargetPort = a.AdminUri!.Port;
            c["ReverseProxy:Clusters:peers:Destinations:shield-b:Address"] = "http://127.0.0.1:9/";
        }
        else
        {
            // shield-a starts first: shield-b's ports come from BTraffic and BAdmin, set once it has started.
            c["ReverseProxy:Clusters:peers:Destinations:shield-b:Address"] = $"http://127.0.0.1:{BTraffic.Port}/";
            c["ReverseProxy:Clusters:peers:Destinations:shield-b:Health"] = $"http://127.0.0.1:{BAdmin.Port}/";
        }

        return c;
    }

    /// <summary>shield-b's ports as shield-a reaches them (shield-a starts before shield-b has ports).</summary>
    public TcpProxy BTraffic { get; } = new(0);

    public TcpProxy BAdmin { get; } = new(0);

    protected override Dictionary<string, string?> EdgeConfig(string id)
    {
        var b = Shields[1].Services.GetRequiredService<NodeEndpoints>();
        BTraffic.TargetPort = b.TrafficUri().Port;
        BAdmin.TargetPort = b.AdminUri!.Port;
        var c = base.EdgeConfig(id);
        c["ReverseProxy:Clusters:shields:Destinations:shield-a:Address"] = $"http://127.0.0.1:{ATraffic.Port}/";
        c["ReverseProxy:Clusters:shields:Destinations:shield-a:Health"] = $"http://127.0.0.1:{AAdmin.Port}/";
        c["ReverseProxy:Clusters:shields:HealthCheck:Active:Timeout"] = "00:00:01";
        return c;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var p in new[] { ATraffic, AAdmin, BTraffic, BAdmin }) await p.DisposeAsync();
    }
}

/// <summary>
/// Warm failover: an object a shield fetched from the origin gets a second home on the shield next in its key's
/// rendezvous order, so when the owner dies the edges' next shield already holds it; and an owner that comes back
/// empty fills from that shield. In both the origin is asked once.
/// </summary>
public sealed class ReplicationTests(ReplicationTopology cdn) : IClassFixture<ReplicationTopology>
{
    private static readonly string[] ShieldIds = ["shield-a", "shield-b"];

    private static string Owner(string path, string host = Topology.Site)
    {
        var key = CacheKey.Build("http", host, path, HostCachePolicy.Default);
        return ShieldIds[RendezvousHash.Pick(RendezvousHash.HashKey(key), ShieldIds.Select(RendezvousHash.HashNode).ToArray())];
    }

    private static string ShieldAPath(string prefix)
    {
        for (var n = 0; ; n++)
        {
            var path = $"/replicated/{prefix}/{Guid.NewGuid():N}/{n}";
            if (Owner(path) == "shield-a") return path;
        }
    }

    private bool Healthy(int edge, string shield) => cdn.Edges[edge].Metric("edgecache.upstream.healthy", ("destination", shield)) == 1;

    private bool PeerHealthy(int node, string shield) => cdn.Shields[node].Metric("edgecache.upstream.healthy", ("cluster", "peers"), ("destination", shield)) == 1;

    private async Task CutShieldAAsync()
    {
        cdn.ATraffic.Cut();
        cdn.AAdmin.Cut();
        await Topology.WaitUntilAsync(() => !Healthy(0, "shield-a") && !Healthy(1, "shield-a") && !PeerHealthy(1, "shield-a"), TimeSpan.FromSeconds(10), "every node holds shield-a down");
    }

    /// <summary>shield-a reachable, and every node's health checks holding both shields healthy.</summary>
    private async Task RestoreShieldAAsync()
    {
        cdn.ATraffic.Restore();
        cdn.AAdmin.Restore();
        var probes = cdn.AAdmin.RequestChunks;
        await Topology.WaitUntilAsync(() => cdn.AAdmin.RequestChunks >= probes + 6 && Healthy(0, "shield-a") && Healthy(1, "shield-a") && Healthy(0, "shield-b") && Healthy(1, "shield-b") && PeerHealthy(1, "shield-a") && PeerHealthy(0, "shield-b"), TimeSpan.FromSeconds(10), "every node holds shield-a healthy again");
    }

    /// <summary>The shield that answered the edge: the last but one entry of Via (a copy filled from a peer keeps the
    /// peer's entry before its own).</summary>
    private static string ServingShield(HttpResponseMessage r)
    {
        var via = r.Header("Via").Split(", ");
        return via[^2].Split(' ')[1];
    }

    [Fact]
    public async Task An_object_fetched_by_its_shield_is_held_by_the_next_shield_which_serves_it_when_the_owner_dies()
    {
        await RestoreShieldAAsync();
        var path = ShieldAPath("failover");
        cdn.Origin.MapStatic(path, "object " + path, ("Cache-Control", "max-age=600"));
        var stored = cdn.Shields[0].Metric("edgecache.replication.pushes", ("outcome", "stored"));
        var filled = cdn.Shields[1].Metric("edgecache.replication.fills", ("outcome", "hit"));

        using (var first = await cdn.GetAsync(0, path))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal("object " + path, await first.BodyAsync());
            Assert.Equal("shield-a", ServingShield(first));
        }

        // shield-a pushes it to shield-b, which fills it from shield-a's cache (not the origin).
        await Topology.WaitUntilAsync(() => cdn.Shields[0].Metric("edgecache.replication.pushes", ("outcome", "stored")) == stored + 1, TimeSpan.FromSeconds(10), "shield-a's push stored");
        Assert.Equal(filled + 1, cdn.Shields[1].Metric("edgecache.replication.fills", ("outcome", "hit")));
        Assert.Equal(1, cdn.Origin.Count(path));

        await CutShieldAAsync();
        try
        {
            // edge-2 never saw the object: it asks the next shield, which has it.
            using var r = await cdn.GetAsync(1, path);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("object " + path, await r.BodyAsync());
            Assert.Equal("shield-b", ServingShield(r));
            Assert.Contains("EdgeCache-Shield; hit", r.Header("Cache-Status"));
            Assert.Equal(1, cdn.Origin.Count(path));
        }
        finally
        {
            await RestoreShieldAAsync();
        }
    }

    [Fact]
    public async Task An_owner_that_comes_back_without_an_object_fills_it_from_the_shield_that_served_it_meanwhile()
    {
        await RestoreShieldAAsync();
        var path = ShieldAPath("return");
        cdn.Origin.MapStatic(path, "object " + path, ("Cache-Control", "max-age=600"));
        await CutShieldAAsync();
        try
        {
            // shield-a is down: shield-b fetches the object from the origin (its peer fill finds no live peer).
            using var meanwhile = await cdn.GetAsync(0, path);
            Assert.Equal(HttpStatusCode.OK, meanwhile.StatusCode);
            Assert.Equal("shield-b", ServingShield(meanwhile));
            Assert.Equal(1, cdn.Origin.Count(path));
        }
        finally
        {
            await RestoreShieldAAsync();
        }

        // shield-a is back and owns the key again, without the object: it fills from shield-b, not the origin.
        var filled = cdn.Shields[0].Metric("edgecache.replication.fills", ("outcome", "hit"));
        using var r = await cdn.GetAsync(1, path);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("object " + path, await r.BodyAsync());
        Assert.Equal("shield-a", ServingShield(r));
        Assert.Equal(1, cdn.Origin.Count(path));
        Assert.Equal(filled + 1, cdn.Shields[0].Metric("edgecache.replication.fills", ("outcome", "hit")));
    }

    [Fact]
    public async Task On_a_host_the_shields_compress_the_original_is_replicated_and_the_next_shield_makes_the_coding_from_it()
    {
        await RestoreShieldAAsync();
        string path;
        do
        {
            path = "/compress/" + Guid.NewGuid().ToString("N");
        }
        while (Owner(path, Topology.CompressSite) != "shield-a");
        var body = CompressionTests.Text(20_000);
        cdn.Origin.Map(path, async ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            ctx.Response.ContentType = "text/html; charset=utf-8";
            ctx.Response.ContentLength = body.Length;
            await ctx.Response.Body.WriteAsync(body);
        });
        var stored = cdn.Shields[0].Metric("edgecache.replication.pushes", ("outcome", "stored"));
        using (var first = await cdn.GetAsync(0, path, Topology.CompressSite, m => m.Headers.TryAddWithoutValidation("Accept-Encoding", "br")))
        {
            Assert.Equal("br", first.Content.Headers.ContentEncoding.Single());
        }

        await Topology.WaitUntilAsync(() => cdn.Shields[0].Metric("edgecache.replication.pushes", ("outcome", "stored")) == stored + 1, TimeSpan.FromSeconds(10), "shield-a's push of the original stored");
        await CutShieldAAsync();
        try
        {
            using var r = await cdn.GetAsync(1, path, Topology.CompressSite, m => m.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip"));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("gzip", r.Content.Headers.ContentEncoding.Single());
            Assert.Equal(body, CompressionTests.Decode("gzip", await r.Content.ReadAsByteArrayAsync()));
            Assert.Equal("shield-b", ServingShield(r));
            Assert.Equal(1, cdn.Origin.Count(path));
        }
        finally
        {
            await RestoreShieldAAsync();
        }
    }

    [Fact]
    public async Task A_client_cannot_ask_a_shield_to_fill_from_its_peers_or_only_from_cache_as_a_peer()
    {
        // The peer field without the tier secret is a client's, and the edge drops it: a plain miss, from the origin.
        await RestoreShieldAAsync();
        var path = ShieldAPath("forged");
        cdn.Origin.MapStatic(path, "object " + path, ("Cache-Control", "max-age=600"));

        // Were it taken as a peer's (the edge adds its tier secret), shield-a would fill from shield-b only: a 504.
        using var r = await cdn.GetAsync(0, path, configure: m => m.Headers.TryAddWithoutValidation("EdgeCache-Peer", "replicate"));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("object " + path, await r.BodyAsync());
        Assert.Equal("shield-a", ServingShield(r));
        Assert.Equal(1, cdn.Origin.Count(path));
    }
}
