namespace EdgeCache.Engine.Tests;

public class CacheStatusTests
{
    [Fact]
    public void Rfc9211_2_a_hit_lists_hit_ttl_and_detail()
    {
        Assert.Equal("EdgeCache-Edge; hit; ttl=56; detail=memory", CacheStatus.ForHit("EdgeCache-Edge", 56, "memory").Format());
    }

    [Fact]
    public void Rfc9211_2_a_forwarded_request_lists_its_parameters_in_order()
    {
        var status = CacheStatus.Forwarded("EdgeCache-Shield", "uri-miss") with { FwdStatus = 200, Stored = true, Collapsed = true, Ttl = -2 };
        Assert.Equal("EdgeCache-Shield; fwd=uri-miss; fwd-status=200; stored; collapsed; ttl=-2", status.Format());
        Assert.Equal(status.Format(), status.ToString());
    }

    [Fact]
    public void Rfc9211_2_a_name_alone_when_nothing_else_is_known()
    {
        Assert.Equal("EdgeCache-Edge", new CacheStatus("EdgeCache-Edge").Format());
    }

    [Theory]
    [InlineData("EdgeCache-Shield; hit; ttl=30; detail=memory", true)]
    [InlineData("EdgeCache-Shield; fwd=uri-miss; fwd-status=200; stored; ttl=60", true)]
    [InlineData("EdgeCache-Shield; fwd=uri-miss; fwd-status=200", false)]
    [InlineData("EdgeCache-Shield; fwd=request; fwd-status=500", false)]
    [InlineData("OriginCache; hit, EdgeCache-Shield; fwd=uri-miss", false)]
    [InlineData("EdgeCache-Shield; hit, Other; fwd=miss", true)]
    [InlineData("EdgeCache-Shieldx; hit", false)]
    [InlineData("", false)]
    public void An_edge_reads_from_its_shields_member_whether_the_shield_holds_the_object(string field, bool holds)
    {
        Assert.Equal(holds, CacheStatus.Holds(new Microsoft.Extensions.Primitives.StringValues(field), "EdgeCache-Shield"));
    }

    [Fact]
    public void The_last_member_of_a_cache_counts_across_field_lines()
    {
        Assert.False(CacheStatus.Holds(new Microsoft.Extensions.Primitives.StringValues(["EdgeCache-Shield; hit", "EdgeCache-Shield; fwd=request"]), "EdgeCache-Shield"));
        Assert.True(CacheStatus.Holds(new Microsoft.Extensions.Primitives.StringValues(["EdgeCache-Shield; fwd=miss", "EdgeCache-Shield; fwd=miss; stored"]), "EdgeCache-Shield"));
    }
}
