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
}
