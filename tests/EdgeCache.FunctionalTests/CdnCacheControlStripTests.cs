using EdgeCache.FunctionalTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests;

/// <summary>Edges with <c>EdgeCache:StripCdnCacheControl</c> set, for operators who want nothing downstream
/// to see the origin's CDN directives.</summary>
public sealed class StrippingTopology : Topology
{
    public StrippingTopology() : base(shields: 1, edges: 1)
    {
    }

    protected override Dictionary<string, string?> EdgeConfig(string id)
    {
        var c = base.EdgeConfig(id);
        c["EdgeCache:StripCdnCacheControl"] = "true";
        c[$"EdgeCache:Hosts:{StripOverrideSite}:StripCdnCacheControl"] = "false";
        return c;
    }
}

[CollectionDefinition(Name)]
public sealed class StrippingFixtureGroup : ICollectionFixture<StrippingTopology>
{
    public const string Name = "strip-cdn-cache-control";
}

[Collection(StrippingFixtureGroup.Name)]
public sealed class CdnCacheControlStripTests(StrippingTopology cdn)
{
    [Fact]
    public async Task StripCdnCacheControl_removes_it_on_misses_and_on_fast_and_full_path_hits_while_it_still_governs_the_tiers()
    {
        var path = "/strip/" + Guid.NewGuid().ToString("N");
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "no-store"), ("CDN-Cache-Control", "max-age=600"));
        using var miss = await cdn.GetAsync(0, path);
        using var hit = await cdn.GetAsync(0, path);
        var fast = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path, "Accept: */*\r\n"), [false]))[0];
        var full = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path, "Accept: */*\r\n" + FastHitTests.FullPathField), [false]))[0];

        Assert.Equal(1, cdn.Origin.Count(path));
        Assert.StartsWith("EdgeCache-Edge; hit", hit.EdgeStatus(), StringComparison.Ordinal);
        Assert.Equal("", miss.Header("CDN-Cache-Control"));
        Assert.Equal("", hit.Header("CDN-Cache-Control"));
        Assert.Null(fast.Header("CDN-Cache-Control"));
        Assert.Null(full.Header("CDN-Cache-Control"));
        Assert.Equal("no-store", fast.Header("Cache-Control"));
    }
}

/// <summary>
/// <c>Hosts:&lt;host&gt;:StripCdnCacheControl</c> overrides the node-wide setting for one host, on every
/// path a response head is written: a miss, a hit on the full and the fast path, a 304 and a
/// pass-through. The field still governs the tiers either way.
/// </summary>
internal static class StripOverride
{
    /// <summary>What a client of <see cref="Topology.StripOverrideSite"/> sees of CDN-Cache-Control on each
    /// path (null: absent), with the origin's request count and the fast hits served.</summary>
    public static async Task<(string? Miss, string? Hit, string? Fast, string? Full, string? NotModified, string? Pass, int OriginRequests, long FastHits)> SeenAsync(Topology cdn)
    {
        var path = "/strip-override/" + Guid.NewGuid().ToString("N");
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "no-store"), ("CDN-Cache-Control", "max-age=600"), ("ETag", "\"t\""));
        string Request(string method, string fields) => $"{method} {path} HTTP/1.1\r\nHost: {Topology.StripOverrideSite}\r\nAccept: */*\r\n{fields}\r\n";
        var edge = cdn.EdgeUri(0);
        var engine = cdn.Edges[0].Services.GetRequiredService<EdgeCache.Proxy.CacheEngine>();

        var miss = (await RawHttp.ExchangeAsync(edge, Request("GET", ""), [false]))[0];
        using var hit = await cdn.GetAsync(0, path, host: Topology.StripOverrideSite);
        var fastBefore = engine.FastHits;
        var fast = (await RawHttp.ExchangeAsync(edge, Request("GET", ""), [false]))[0];
        var fastHits = engine.FastHits - fastBefore;
        var full = (await RawHttp.ExchangeAsync(edge, Request("GET", FastHitTests.FullPathField), [false]))[0];
        var notModified = (await RawHttp.ExchangeAsync(edge, Request("GET", "If-None-Match: \"t\"\r\n"), [false]))[0];
        var origin = cdn.Origin.Count(path);
        Assert.StartsWith("HTTP/1.1 304", notModified.StatusLine, StringComparison.Ordinal);
        Assert.StartsWith("EdgeCache-Edge; hit", hit.EdgeStatus(), StringComparison.Ordinal);

        // Last: an unsafe method invalidates the stored copy (RFC 9111 §4.4).
        var pass = (await RawHttp.ExchangeAsync(edge, Request("POST", "Content-Length: 0\r\n"), [false]))[0];
        Assert.StartsWith("HTTP/1.1 200", pass.StatusLine, StringComparison.Ordinal);
        var hitField = hit.Headers.TryGetValues("CDN-Cache-Control", out var v) ? string.Join(", ", v) : null;
        return (miss.Header("CDN-Cache-Control"), hitField, fast.Header("CDN-Cache-Control"), full.Header("CDN-Cache-Control"), notModified.Header("CDN-Cache-Control"), pass.Header("CDN-Cache-Control"), origin, fastHits);
    }
}

[Collection(StrippingFixtureGroup.Name)]
public sealed class CdnCacheControlHostPassTests(StrippingTopology cdn)
{
    [Fact]
    public async Task A_host_set_not_to_strip_passes_CDN_Cache_Control_on_every_path_where_the_node_strips_it()
    {
        var seen = await StripOverride.SeenAsync(cdn);

        Assert.Equal(1, seen.OriginRequests);
        Assert.Equal(1, seen.FastHits);
        Assert.All(new[] { seen.Miss, seen.Hit, seen.Fast, seen.Full, seen.NotModified, seen.Pass }, f => Assert.Equal("max-age=600", f));
    }
}

[Collection(CdnFixtureGroup.Name)]
public sealed class CdnCacheControlHostStripTests(Topology cdn)
{
    [Fact]
    public async Task A_host_set_to_strip_removes_CDN_Cache_Control_on_every_path_where_the_node_passes_it_on()
    {
        var seen = await StripOverride.SeenAsync(cdn);

        Assert.Equal(1, seen.OriginRequests);
        Assert.Equal(1, seen.FastHits);
        Assert.All(new[] { seen.Miss, seen.Hit, seen.Fast, seen.Full, seen.NotModified, seen.Pass }, Assert.Null);

        // Other hosts on the same edges keep the node-wide default.
        var path = "/strip-override/" + Guid.NewGuid().ToString("N");
        cdn.Origin.MapStatic(path, "x", ("CDN-Cache-Control", "max-age=600"));
        using var other = await cdn.GetAsync(0, path);
        Assert.Equal("max-age=600", other.Header("CDN-Cache-Control"));
    }
}
