using Microsoft.AspNetCore.Http;
using static EdgeCache.Engine.Tests.TestData;

namespace EdgeCache.Engine.Tests;

/// <summary>RFC 9110 §9.3.3 and RFC 9111 §4: which POST responses are stored as the target's GET response.</summary>
public class PostResponseStorageTests
{
    private const string Target = "https://www.example.com/orders/7?view=full";

    private static readonly HostCachePolicy On = new() { StorePostResponses = true };

    private static StoreDecision Evaluate(HeaderDictionary response, int status = 200, HostCachePolicy? policy = null, HeaderDictionary? request = null, string key = Target) =>
        PostResponseStorage.Evaluate(key, request ?? Headers(("Accept-Encoding", "gzip")), status, response, policy ?? On);

    [Fact]
    public void Off_by_default_a_post_response_is_never_stored()
    {
        Assert.False(HostCachePolicy.Default.StorePostResponses);
        Assert.Equal(StoreDecision.MethodNotCacheable, Evaluate(Headers(("Cache-Control", "max-age=60"), ("Content-Location", Target)), policy: HostCachePolicy.Default));
    }

    [Theory]
    [InlineData("https://www.example.com/orders/7?view=full")]
    [InlineData("https://WWW.example.com:443/orders/7?view=full")]
    [InlineData("/orders/7?view=full")]
    [InlineData("7?view=full")]
    [InlineData("./7?view=full")]
    [InlineData("../orders/7?view=full")]
    [InlineData("//www.example.com/orders/7?view=full")]
    [InlineData("/orders/%37?view=full")]
    public void Rfc9110_9_3_3_a_Content_Location_that_resolves_to_the_target_with_explicit_freshness_is_stored(string contentLocation)
    {
        Assert.Equal(StoreDecision.Store, Evaluate(Headers(("Cache-Control", "max-age=60"), ("Content-Location", contentLocation))));
    }

    [Theory]
    [InlineData("/orders/7")]
    [InlineData("/orders/7?view=summary")]
    [InlineData("/orders/8?view=full")]
    [InlineData("http://www.example.com/orders/7?view=full")]
    [InlineData("https://other.example.com/orders/7?view=full")]
    [InlineData("https://www.example.com:8443/orders/7?view=full")]
    [InlineData("https://user@www.example.com/orders/7?view=full")]
    [InlineData("/orders/7?view=full#top")]
    [InlineData("")]
    public void Rfc9110_9_3_3_a_Content_Location_other_than_the_target_is_not_stored(string contentLocation)
    {
        Assert.Equal(StoreDecision.ContentLocationNotTarget, Evaluate(Headers(("Cache-Control", "max-age=60"), ("Content-Location", contentLocation))));
    }

    [Fact]
    public void Rfc9110_9_3_3_no_Content_Location_or_two_of_them_is_not_stored()
    {
        Assert.Equal(StoreDecision.ContentLocationNotTarget, Evaluate(Headers(("Cache-Control", "max-age=60"))));
        Assert.Equal(StoreDecision.ContentLocationNotTarget, Evaluate(Headers(("Cache-Control", "max-age=60"), ("Content-Location", "/orders/7?view=full"), ("Content-Location", "/orders/7?view=full"))));
    }

    [Theory]
    [InlineData("Cache-Control", "max-age=60")]
    [InlineData("Cache-Control", "s-maxage=60")]
    [InlineData("CDN-Cache-Control", "max-age=60")]
    [InlineData("EdgeCache-Cache-Control", "max-age=60")]
    public void Rfc9111_4_2_1_explicit_freshness_in_any_field_this_tier_obeys_counts(string name, string value)
    {
        Assert.Equal(StoreDecision.Store, Evaluate(Headers((name, value), ("Content-Location", "/orders/7?view=full"))));
    }

    [Fact]
    public void Rfc9111_4_2_1_Expires_counts_as_explicit_freshness()
    {
        Assert.Equal(StoreDecision.Store, Evaluate(Headers(("Date", Http(T0)), ("Expires", Http(T0.AddMinutes(5))), ("Content-Location", "/orders/7?view=full"))));
    }

    [Theory]
    [InlineData("public")]
    [InlineData("no-cache")]
    [InlineData("")]
    public void Rfc9110_9_3_3_without_explicit_freshness_a_post_response_is_not_stored_not_even_heuristically(string cacheControl)
    {
        var response = Headers(("Content-Location", "/orders/7?view=full"), ("Last-Modified", Http(T0.AddDays(-10))), ("ETag", "\"v1\""));
        if (cacheControl.Length > 0) response["Cache-Control"] = cacheControl;
        Assert.Equal(StoreDecision.NoFreshnessInformation, Evaluate(response));
    }

    [Fact]
    public void A_targeted_field_without_freshness_rules_out_Expires()
    {
        // CDN-Cache-Control replaces Cache-Control and Expires for this tier (RFC 9213 §2.1).
        Assert.Equal(StoreDecision.NoFreshnessInformation, Evaluate(Headers(("CDN-Cache-Control", "public"), ("Date", Http(T0)), ("Expires", Http(T0.AddMinutes(5))), ("Content-Location", "/orders/7?view=full"))));
    }

    [Theory]
    [InlineData(301)]
    [InlineData(303)]
    [InlineData(404)]
    [InlineData(500)]
    [InlineData(503)]
    public void Only_a_2xx_is_stored(int status)
    {
        Assert.Equal(StoreDecision.StatusNotCacheable, Evaluate(Headers(("Cache-Control", "max-age=60"), ("Content-Location", "/orders/7?view=full")), status: status));
        Assert.Equal(StoreDecision.StatusNotCacheable, Evaluate(Headers(("Cache-Control", "max-age=60"), ("Content-Location", "/orders/7?view=full")), status: status, policy: new HostCachePolicy { StorePostResponses = true, StoreErrorStatuses = true }));
    }

    [Fact]
    public void Every_rule_for_storing_a_get_response_still_holds()
    {
        static HeaderDictionary With(params (string, string)[] more) =>
            Headers([("Content-Location", "/orders/7?view=full"), .. more]);
        Assert.Equal(StoreDecision.ResponseNoStore, Evaluate(With(("Cache-Control", "max-age=60, no-store"))));
        Assert.Equal(StoreDecision.Private, Evaluate(With(("Cache-Control", "max-age=60, private"))));
        Assert.Equal(StoreDecision.SetCookie, Evaluate(With(("Cache-Control", "max-age=60"), ("Set-Cookie", "s=1"))));
        Assert.Equal(StoreDecision.VaryStar, Evaluate(With(("Cache-Control", "max-age=60"), ("Vary", "*"))));
        Assert.Equal(StoreDecision.EncodingNotAccepted, Evaluate(With(("Cache-Control", "max-age=60"), ("Content-Encoding", "br"))));
        Assert.Equal(StoreDecision.RequestNoStore, Evaluate(With(("Cache-Control", "max-age=60")), request: Headers(("Cache-Control", "no-store"))));
        Assert.Equal(StoreDecision.Authorization, Evaluate(With(("Cache-Control", "max-age=60")), request: Headers(("Authorization", "Bearer x"))));
        Assert.Equal(StoreDecision.Store, Evaluate(With(("Cache-Control", "s-maxage=60")), request: Headers(("Authorization", "Bearer x"))));
    }

    [Fact]
    public void The_target_is_compared_as_the_host_policy_makes_its_key()
    {
        var sorted = new HostCachePolicy { StorePostResponses = true, SortQuery = true, IgnoreQueryParameters = ["utm_*"] };
        var key = CacheKey.Build("https", "www.example.com", "/list?b=2&a=1&utm_source=x", sorted);
        Assert.True(PostResponseStorage.ContentLocationIsTarget(key, "/list?a=1&b=2", sorted));
        Assert.True(PostResponseStorage.ContentLocationIsTarget(key, "/list?b=2&a=1&utm_campaign=y", sorted));
        Assert.False(PostResponseStorage.ContentLocationIsTarget(key, "/list?a=1", sorted));
    }
}
