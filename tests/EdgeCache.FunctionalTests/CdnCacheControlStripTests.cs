using EdgeCache.FunctionalTests.Infrastructure;

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
