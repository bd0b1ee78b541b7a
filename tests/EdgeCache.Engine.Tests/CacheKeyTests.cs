namespace EdgeCache.Engine.Tests;

public class CacheKeyTests
{
    private static readonly HostCachePolicy Plain = HostCachePolicy.Default;

    [Theory]
    [InlineData("http", "Example.COM", "/a", "http://example.com/a")]
    [InlineData("http", "example.com:80", "/a", "http://example.com/a")]
    [InlineData("https", "example.com:443", "/a", "https://example.com/a")]
    [InlineData("https", "EXAMPLE.com:443", "/a", "https://example.com/a")]
    [InlineData("http", "example.com:8080", "/a", "http://example.com:8080/a")]
    [InlineData("https", "example.com:8443", "/a", "https://example.com:8443/a")]
    [InlineData("http", "example.com:443", "/a", "http://example.com:443/a")]
    [InlineData("https", "example.com:80", "/a", "https://example.com:80/a")]
    [InlineData("http", "example.com:180", "/a", "http://example.com:180/a")]
    [InlineData("http", "[::1]:80", "/a", "http://[::1]/a")]
    [InlineData("http", "[::1]:8080", "/a", "http://[::1]:8080/a")]
    public void Rfc9110_4_2_3_Host_is_lower_cased_and_default_port_removed(string scheme, string host, string path, string expected)
    {
        Assert.Equal(expected, CacheKey.Build(scheme, host, path, Plain));
    }

    [Theory]
    [InlineData("/A/b%2Fc?Z=1&a=2&Z=0")]
    [InlineData("/path?b=2&a=1")]
    [InlineData("/path?utm_source=x&id=1")]
    [InlineData("/")]
    [InlineData("/p?")]
    [InlineData("/p?a=1&&b=2")]
    public void Path_and_query_are_kept_exactly_by_default(string pathAndQuery)
    {
        Assert.Equal("https://example.com" + pathAndQuery, CacheKey.Build("https", "example.com", pathAndQuery, Plain));
    }

    [Fact]
    public void Different_query_order_gives_different_keys_by_default()
    {
        Assert.NotEqual(CacheKey.Build("https", "example.com", "/p?a=1&b=2", Plain), CacheKey.Build("https", "example.com", "/p?b=2&a=1", Plain));
    }

    [Fact]
    public void SortQuery_sorts_by_name_and_keeps_order_of_repeated_names()
    {
        var policy = new HostCachePolicy { SortQuery = true };

        Assert.Equal("https://example.com/p?a=1&b=2&b=1&c", CacheKey.Build("https", "example.com", "/p?b=2&c&a=1&b=1", policy));
        Assert.Equal(CacheKey.Build("https", "example.com", "/p?x=1&y=2", policy), CacheKey.Build("https", "example.com", "/p?y=2&x=1", policy));
    }

    [Fact]
    public void SortQuery_is_ordinal_so_upper_case_sorts_first()
    {
        var policy = new HostCachePolicy { SortQuery = true };

        Assert.Equal("https://example.com/p?B=1&a=2", CacheKey.Build("https", "example.com", "/p?a=2&B=1", policy));
    }

    [Fact]
    public void SortQuery_leaves_path_without_query_unchanged()
    {
        var policy = new HostCachePolicy { SortQuery = true };

        Assert.Equal("https://example.com/Z/a", CacheKey.Build("https", "example.com", "/Z/a", policy));
    }

    [Fact]
    public void IgnoreQueryParameters_drops_prefix_and_exact_matches()
    {
        var policy = new HostCachePolicy { IgnoreQueryParameters = ["utm_*", "fbclid"] };

        Assert.Equal("https://example.com/p?id=1&fbclid2=x", CacheKey.Build("https", "example.com", "/p?utm_source=x&id=1&utm_medium=y&fbclid=abc&fbclid2=x", policy));
    }

    [Fact]
    public void IgnoreQueryParameters_removing_every_parameter_removes_the_question_mark()
    {
        var policy = new HostCachePolicy { IgnoreQueryParameters = ["utm_*"] };

        Assert.Equal("https://example.com/p", CacheKey.Build("https", "example.com", "/p?utm_source=a&utm_campaign=b", policy));
        Assert.Equal(CacheKey.Build("https", "example.com", "/p", Plain), CacheKey.Build("https", "example.com", "/p?utm_source=a", policy));
    }

    [Fact]
    public void IgnoreQueryParameters_is_case_sensitive_and_matches_names_not_values()
    {
        var policy = new HostCachePolicy { IgnoreQueryParameters = ["utm_*"] };

        Assert.Equal("https://example.com/p?UTM_source=a&q=utm_x", CacheKey.Build("https", "example.com", "/p?UTM_source=a&q=utm_x", policy));
    }

    [Fact]
    public void SortQuery_and_IgnoreQueryParameters_combine()
    {
        var policy = new HostCachePolicy { SortQuery = true, IgnoreQueryParameters = ["utm_*"] };

        Assert.Equal("https://example.com/p?a=1&z=9", CacheKey.Build("https", "Example.com:443", "/p?z=9&utm_source=x&a=1", policy));
    }

    [Theory]
    [InlineData("https://example.com/a/b?c=1", "example.com")]
    [InlineData("http://example.com:8080/", "example.com:8080")]
    [InlineData("http://example.com", "example.com")]
    public void HostOf_returns_the_host_part_of_a_key(string key, string expected)
    {
        Assert.Equal(expected, CacheKey.HostOf(key));
    }

    [Theory]
    [InlineData("/a/b/c/./../../g", "/a/g")] // RFC 3986 §5.2.4's own example
    [InlineData("/mid/content=5/../6", "/mid/6")]
    [InlineData("/x/../obj", "/obj")]
    [InlineData("/./obj", "/obj")]
    [InlineData("/../../obj", "/obj")]
    [InlineData("/a/..", "/")]
    [InlineData("/a/.", "/a/")]
    [InlineData("/.well-known/x", "/.well-known/x")]
    [InlineData("/a..b/c.", "/a..b/c.")]
    [InlineData("/%7Euser", "/~user")] // §6.2.2.2: unreserved characters are decoded
    [InlineData("/%41%62%2d%2E%5f", "/Ab-._")]
    [InlineData("/a%2fb", "/a%2Fb")] // §6.2.2.1: hex digits upper-cased; reserved stays encoded
    [InlineData("/a%2Fb", "/a%2Fb")]
    [InlineData("/%e2%82%ac", "/%E2%82%AC")]
    [InlineData("/%2E%2E/x", "/x")] // encoded dots are dots: decoded first, then removed
    [InlineData("/100%", "/100%")]
    [InlineData("/a%zz", "/a%zz")]
    [InlineData("/p?q=%7e&r=%2f", "/p?q=~&r=%2F")]
    [InlineData("/p?q=../x", "/p?q=../x")] // the query has no dot segments
    [InlineData("/plain?x=1", "/plain?x=1")]
    public void Rfc3986_6_2_2_syntax_based_normalisation_gives_one_key_per_URI(string target, string expected)
    {
        Assert.Equal(expected, CacheKey.NormalizeTarget(target));
        Assert.Equal("http://example.com" + expected, CacheKey.Build("http", "example.com", target, HostCachePolicy.Default));
    }

    [Fact]
    public void A_target_that_needs_no_normalisation_is_returned_without_a_copy()
    {
        const string target = "/img/a.jpg?w=100";
        Assert.Same(target, CacheKey.NormalizeTarget(target));
    }
}
