using System.Text;
using EdgeCache.Engine;
using EdgeCache.Proxy.Internal;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.Proxy.Tests;

/// <summary>
/// The fast path's stored head follows the host's StripCdnCacheControl, as the full path's does: built
/// once per stored object and host policy, built anew when a reload brings another policy.
/// </summary>
public sealed class FastHitHeadPolicyTests
{
    private static CacheEngine Engine(bool stripNodeWide)
    {
        var options = new EdgeCacheOptions { NodeId = "t", Role = NodeRole.Edge, StripCdnCacheControl = stripNodeWide };
        return new CacheEngine(Microsoft.Extensions.Options.Options.Create(options), CacheClock.System, new Invalidation.InvalidationState(options.Invalidation, TimeProvider.System),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<CacheEngine>.Instance, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
    }

    private static CachedResponse Entry()
    {
        var headers = new HeaderDictionary { ["Cache-Control"] = "no-store", ["CDN-Cache-Control"] = "max-age=600" };
        var now = DateTimeOffset.UtcNow;
        return CachedResponseFactory.Create(200, headers, new HeaderDictionary(), CacheBody.FromBytes("x"u8.ToArray()), now, now, HeuristicOptions.Default);
    }

    private static string Head(CachedResponse entry, CacheEngine engine, HostCachePolicy policy) =>
        Encoding.ASCII.GetString(FastHits.WireHead.For(entry, engine, policy)!.Fixed);

    [Theory]
    [InlineData(false, null, true)]
    [InlineData(false, true, false)]
    [InlineData(true, null, false)]
    [InlineData(true, false, true)]
    public void The_host_setting_overrides_the_node_wide_one(bool nodeWide, bool? host, bool sent)
    {
        var engine = Engine(nodeWide);
        var policy = new HostCachePolicy { StripCdnCacheControl = host };

        Assert.Equal(sent, Head(Entry(), engine, policy).Contains("CDN-Cache-Control: max-age=600\r\n", StringComparison.Ordinal));
        Assert.Equal(!sent, engine.HidesFromClients("cdn-cache-control", policy));
    }

    [Fact]
    public void The_head_is_built_once_per_policy_and_anew_for_a_reloaded_one()
    {
        var engine = Engine(stripNodeWide: false);
        var entry = Entry();
        var before = new HostCachePolicy();
        var wire = FastHits.WireHead.For(entry, engine, before);

        Assert.Same(wire, FastHits.WireHead.For(entry, engine, before));
        Assert.DoesNotContain("CDN-Cache-Control", Head(entry, engine, new HostCachePolicy { StripCdnCacheControl = true }), StringComparison.Ordinal);
        Assert.Contains("CDN-Cache-Control", Head(entry, engine, before), StringComparison.Ordinal);
    }
}
