using Microsoft.AspNetCore.Http;
using static EdgeCache.Engine.Tests.TestData;

namespace EdgeCache.Engine.Tests;

/// <summary>Stored partial responses: RFC 9111 §3.3 (storing), §3.4 (combining), RFC 9110 §14.4
/// (Content-Range), §13.1.5 (If-Range), §15.3.7.3 (combining parts).</summary>
public class PartialContentTests
{
    private const string Tag = "\"v1\"";

    private static byte[] Bytes(int first, int count) => [.. Enumerable.Range(first, count).Select(i => (byte)(i % 251))];

    /// <summary>A stored 206 of bytes first..last of a representation of complete bytes, received at <see cref="T0"/>.</summary>
    private static CachedResponse Partial(long first, long last, long complete, string? etag = Tag, string cacheControl = "max-age=60", params (string, string)[] more)
    {
        var fields = new List<(string, string)> { ("Date", Http(T0)), ("Cache-Control", cacheControl), ("Content-Range", $"bytes {first}-{last}/{complete}"), ("Content-Type", "application/octet-stream") };
        if (etag is not null) fields.Add(("ETag", etag));
        fields.AddRange(more);
        return CachedResponseFactory.Create(206, Headers([.. fields]), Headers(), CacheBody.FromBytes(Bytes((int)first, (int)(last - first + 1))), T0, T0, HeuristicOptions.Default);
    }

    private static StoreDecision Evaluate(params (string, string)[] fields) =>
        StoragePolicy.Evaluate("GET", Headers(), 206, Headers(fields), HostCachePolicy.Default);

    private static bool Answers(CachedResponse stored, string method, out long start, out long count, params (string, string)[] request) =>
        PartialContent.Answers(stored, method, Headers(request), T0, out start, out count);

    [Theory]
    [InlineData("bytes 0-99/1000", 0, 99, 1000)]
    [InlineData("bytes 990-999/1000", 990, 999, 1000)]
    [InlineData("BYTES 5-5/6", 5, 5, 6)]
    [InlineData("  bytes 0-0/1  ", 0, 0, 1)]
    public void Rfc9110_14_4_Content_Range_with_one_range_of_a_known_length_is_a_span(string value, long first, long last, long complete)
    {
        Assert.True(PartialSpan.TryParse(value, out var span));
        Assert.Equal(new PartialSpan(first, last, complete), span);
    }

    [Theory]
    [InlineData("bytes 0-99/*")]
    [InlineData("bytes */1000")]
    [InlineData("bytes 100-99/1000")]
    [InlineData("bytes 0-1000/1000")]
    [InlineData("items 0-9/10")]
    [InlineData("bytes 0-9/10, 20-29/30")]
    [InlineData("bytes -1-9/10")]
    [InlineData("bytes 0-9")]
    [InlineData("")]
    public void Rfc9110_14_4_Content_Range_that_is_not_one_satisfied_byte_range_of_a_known_length_is_no_span(string value)
    {
        Assert.False(PartialSpan.TryParse(value, out _));
    }

    [Fact]
    public void Rfc9110_14_4_Content_Range_on_two_field_lines_is_no_span()
    {
        Assert.False(PartialSpan.TryParse(new Microsoft.Extensions.Primitives.StringValues(["bytes 0-9/10", "bytes 0-9/10"]), out _));
    }

    [Theory]
    [InlineData(0, 9, 10, 19, 0, 19)]
    [InlineData(10, 19, 0, 9, 0, 19)]
    [InlineData(0, 50, 20, 99, 0, 99)]
    [InlineData(0, 99, 10, 20, 0, 99)]
    public void Rfc9110_15_3_7_3_spans_that_overlap_or_touch_make_one_continuous_range(long a1, long a2, long b1, long b2, long first, long last)
    {
        Assert.Equal(new PartialSpan(first, last, 100), PartialSpan.Union(new(a1, a2, 100), new(b1, b2, 100)));
    }

    [Fact]
    public void Rfc9110_15_3_7_3_spans_with_a_gap_or_of_other_lengths_do_not_combine()
    {
        Assert.Null(PartialSpan.Union(new(0, 9, 100), new(11, 20, 100)));
        Assert.Null(PartialSpan.Union(new(0, 9, 100), new(10, 20, 101)));
    }

    [Fact]
    public void Rfc9111_3_3_a_206_with_one_range_of_a_known_length_and_explicit_freshness_is_stored()
    {
        Assert.Equal(StoreDecision.Store, Evaluate(("Cache-Control", "max-age=60"), ("Content-Range", "bytes 0-9/100"), ("Content-Length", "10")));
    }

    [Fact]
    public void Rfc9111_4_2_2_a_206_is_heuristically_cacheable()
    {
        Assert.Equal(StoreDecision.Store, Evaluate(("Last-Modified", Http(T0.AddDays(-10))), ("Content-Range", "bytes 0-9/100")));
    }

    [Fact]
    public void Rfc9111_5_2_2_3_must_understand_stores_a_206_this_cache_understands()
    {
        Assert.Equal(StoreDecision.Store, Evaluate(("Cache-Control", "must-understand, no-store, max-age=60"), ("Content-Range", "bytes 0-9/100")));
    }

    [Theory]
    [InlineData("bytes 0-9/*", null, null)]
    [InlineData("bytes */100", null, null)]
    [InlineData(null, "multipart/byteranges; boundary=x", null)]
    [InlineData("bytes 0-9/100", "multipart/byteranges; boundary=x", null)]
    [InlineData("bytes 0-9/100", null, "11")]
    [InlineData(null, null, null)]
    public void Rfc9111_3_3_a_206_the_cache_cannot_read_as_one_range_is_not_stored(string? contentRange, string? contentType, string? contentLength)
    {
        var fields = new List<(string, string)> { ("Cache-Control", "max-age=60") };
        if (contentRange is not null) fields.Add(("Content-Range", contentRange));
        if (contentType is not null) fields.Add(("Content-Type", contentType));
        if (contentLength is not null) fields.Add(("Content-Length", contentLength));
        Assert.Equal(StoreDecision.PartialNotUnderstood, Evaluate([.. fields]));
    }

    [Fact]
    public void Rfc9111_3_3_a_stored_206_is_a_partial_with_its_span_and_keeps_it_through_rules()
    {
        var stored = Partial(0, 99, 1000);
        Assert.True(stored.IsPartial);
        Assert.Equal(new PartialSpan(0, 99, 1000), stored.Partial);
        Assert.Equal(new PartialSpan(0, 99, 1000), stored.WithStoredSeq(7).Partial);
        Assert.Equal(new PartialSpan(0, 99, 1000), stored.WithRule(new RuleMatch(RuleKind.Soft, 9, default), 9).Partial);
        Assert.False(TestData.Stored(Headers(("Cache-Control", "max-age=60"))).IsPartial);
    }

    [Theory]
    [InlineData("bytes=0-99", 0, 100)]
    [InlineData("bytes=10-19", 10, 10)]
    [InlineData("bytes=0-9,10-19", 0, 20)]
    [InlineData("bytes=50-", 50, 50)]
    public void Rfc9111_3_3_a_range_wholly_within_the_partial_is_answered_from_it(string range, long start, long count)
    {
        Assert.True(Answers(Partial(0, 99, 100), "GET", out var s, out var n, ("Range", range)));
        Assert.Equal((start, count), (s, n));
    }

    [Fact]
    public void Rfc9111_3_3_a_suffix_range_is_read_against_the_complete_length()
    {
        Assert.True(Answers(Partial(990, 999, 1000), "GET", out var s, out var n, ("Range", "bytes=-10")));
        Assert.Equal((990L, 10L), (s, n));
        Assert.False(Answers(Partial(0, 99, 1000), "GET", out _, out _, ("Range", "bytes=-10")));
    }

    [Theory]
    [InlineData("bytes=0-100")]
    [InlineData("bytes=100-199")]
    [InlineData("bytes=50-")]
    [InlineData("bytes=0-9,50-59")]
    [InlineData("bytes=2000-")]
    [InlineData("items=0-9")]
    public void Rfc9111_3_3_a_range_not_wholly_within_the_partial_is_not_answered_from_it(string range)
    {
        Assert.False(Answers(Partial(0, 99, 1000), "GET", out _, out _, ("Range", range)));
    }

    [Fact]
    public void Rfc9111_3_3_a_request_for_the_complete_response_or_a_HEAD_is_never_answered_from_a_partial()
    {
        var stored = Partial(0, 99, 100);
        Assert.False(Answers(stored, "GET", out _, out _));
        Assert.False(Answers(stored, "HEAD", out _, out _, ("Range", "bytes=0-9")));
        Assert.False(Answers(TestData.Stored(Headers(("Cache-Control", "max-age=60"))), "GET", out _, out _, ("Range", "bytes=0-0")));
    }

    [Fact]
    public void Rfc9110_13_1_5_If_Range_with_the_partial_s_strong_tag_allows_the_range_another_does_not()
    {
        var stored = Partial(0, 99, 1000);
        Assert.True(Answers(stored, "GET", out _, out _, ("Range", "bytes=0-9"), ("If-Range", Tag)));
        Assert.False(Answers(stored, "GET", out _, out _, ("Range", "bytes=0-9"), ("If-Range", "\"v2\"")));
        Assert.False(Answers(Partial(0, 99, 1000, etag: "W/\"v1\""), "GET", out _, out _, ("Range", "bytes=0-9"), ("If-Range", "W/\"v1\"")));
    }

    [Theory]
    [InlineData("If-None-Match", Tag)]
    [InlineData("If-Match", Tag)]
    [InlineData("If-Modified-Since", "Wed, 01 Jan 2025 12:00:00 GMT")]
    public void Rfc9111_4_3_2_a_conditional_range_request_is_not_answered_from_a_partial(string name, string value)
    {
        Assert.False(Answers(Partial(0, 99, 1000), "GET", out _, out _, ("Range", "bytes=0-9"), (name, value)));
    }

    [Fact]
    public void Rfc9111_3_4_only_the_same_strong_entity_tag_combines()
    {
        var stored = Partial(0, 99, 1000);
        Assert.True(PartialContent.SameStrongValidator(stored, Headers(("ETag", Tag))));
        Assert.False(PartialContent.SameStrongValidator(stored, Headers(("ETag", "\"v2\""))));
        Assert.False(PartialContent.SameStrongValidator(stored, Headers(("ETag", "W/\"v1\""))));
        Assert.False(PartialContent.SameStrongValidator(stored, Headers()));
        Assert.False(PartialContent.SameStrongValidator(Partial(0, 99, 1000, etag: "W/\"v1\""), Headers(("ETag", "W/\"v1\""))));
        Assert.False(PartialContent.SameStrongValidator(Partial(0, 99, 1000, etag: null), Headers()));
    }

    [Fact]
    public void Rfc9110_8_8_2_2_without_an_entity_tag_a_Last_Modified_60_seconds_before_Date_is_the_strong_validator()
    {
        var strong = Http(T0.AddDays(-1));
        var partial = Partial(0, 99, 1000, etag: null, more: ("Last-Modified", strong));
        Assert.Equal(strong, PartialContent.StrongValidator(partial));
        Assert.True(PartialContent.MayComplete(partial));
        Assert.True(PartialContent.SameStrongValidator(partial, Headers(("Date", Http(T0)), ("Last-Modified", strong))));
        Assert.False(PartialContent.SameStrongValidator(partial, Headers(("Date", Http(T0)), ("Last-Modified", Http(T0.AddDays(-2))))));
        Assert.False(PartialContent.SameStrongValidator(partial, Headers(("Date", Http(T0)), ("Last-Modified", strong), ("ETag", Tag))));
        Assert.False(PartialContent.SameStrongValidator(partial, Headers(("Date", Http(T0.AddDays(-1).AddSeconds(30))), ("Last-Modified", strong))));

        var recent = Partial(0, 99, 1000, etag: null, more: ("Last-Modified", Http(T0.AddSeconds(-30))));
        Assert.Null(PartialContent.StrongValidator(recent));
        Assert.False(PartialContent.MayComplete(recent));

        // RFC 9110 §13.1.5: a date goes in If-Range only when there is no entity-tag, strong or weak.
        Assert.Null(PartialContent.StrongValidator(Partial(0, 99, 1000, etag: "W/\"w\"", more: ("Last-Modified", strong))));
        Assert.Equal(Tag, PartialContent.StrongValidator(Partial(0, 99, 1000, more: ("Last-Modified", strong))));
    }

    [Fact]
    public void Rfc9111_3_3_completion_asks_for_the_rest_of_a_prefix_or_a_suffix_and_the_whole_for_a_middle()
    {
        Assert.Equal("bytes=100-", PartialContent.CompletionRange(new(0, 99, 1000)));
        Assert.Equal("bytes=0-899", PartialContent.CompletionRange(new(900, 999, 1000)));
        Assert.Null(PartialContent.CompletionRange(new(100, 199, 1000)));
        Assert.True(PartialContent.MayComplete(Partial(0, 99, 1000)));
        Assert.False(PartialContent.MayComplete(Partial(0, 99, 1000, etag: "W/\"v1\"")));
        Assert.False(PartialContent.MayComplete(Partial(0, 99, 1000, etag: null)));
        Assert.False(PartialContent.MayComplete(Partial(100, 199, 1000)));
    }

    [Fact]
    public void Rfc9110_15_3_7_3_combining_into_the_whole_gives_a_complete_200_with_the_new_fields()
    {
        var stored = Partial(0, 99, 250, more: ("X-Stored", "old"));
        var rest = Headers(("Date", Http(T0.AddSeconds(5))), ("Cache-Control", "max-age=120"), ("Content-Range", "bytes 100-249/250"), ("Content-Length", "150"), ("ETag", Tag), ("X-New", "new"));
        var combined = CachedResponseFactory.Combine(stored, rest, CacheBody.FromBytes(Bytes(100, 150)), Headers(), T0.AddSeconds(5), T0.AddSeconds(5), HeuristicOptions.Default);

        Assert.NotNull(combined);
        Assert.Equal(200, combined.StatusCode);
        Assert.False(combined.IsPartial);
        Assert.Equal(Bytes(0, 250), combined.Body.ToArrayForTests());
        Assert.Equal("250", combined.GetHeader("Content-Length").ToString());
        Assert.Equal(0, combined.GetHeader("Content-Range").Count);
        Assert.Equal("max-age=120", combined.GetHeader("Cache-Control").ToString());
        Assert.Equal(TimeSpan.FromSeconds(120), combined.FreshnessLifetime);
        Assert.Equal("old", combined.GetHeader("X-Stored").ToString());
        Assert.Equal("new", combined.GetHeader("X-New").ToString());
        Assert.Equal(Tag, combined.ETag);
        Assert.Equal(stored.StoredAt, combined.StoredAt);
    }

    [Fact]
    public void Rfc9110_15_3_7_3_overlapping_parts_combine_into_a_larger_partial_while_a_gap_remains_before_the_end()
    {
        var stored = Partial(100, 199, 1000);
        var more = Headers(("Cache-Control", "max-age=60"), ("Content-Range", "bytes 150-299/1000"), ("ETag", Tag));
        var combined = CachedResponseFactory.Combine(stored, more, CacheBody.FromBytes(Bytes(150, 150)), Headers(), T0, T0, HeuristicOptions.Default);

        Assert.NotNull(combined);
        Assert.Equal(206, combined.StatusCode);
        Assert.Equal(new PartialSpan(100, 299, 1000), combined.Partial);
        Assert.Equal("bytes 100-299/1000", combined.GetHeader("Content-Range").ToString());
        Assert.Equal(Bytes(100, 200), combined.Body.ToArrayForTests());
    }

    [Fact]
    public void Rfc9110_15_3_7_3_parts_with_a_gap_or_a_body_shorter_than_its_range_do_not_combine()
    {
        var stored = Partial(0, 99, 1000);
        var gap = Headers(("Content-Range", "bytes 101-199/1000"), ("ETag", Tag));
        Assert.Null(CachedResponseFactory.Combine(stored, gap, CacheBody.FromBytes(Bytes(101, 99)), Headers(), T0, T0, HeuristicOptions.Default));
        var shortBody = Headers(("Content-Range", "bytes 100-199/1000"), ("ETag", Tag));
        Assert.Null(CachedResponseFactory.Combine(stored, shortBody, CacheBody.FromBytes(Bytes(100, 50)), Headers(), T0, T0, HeuristicOptions.Default));
    }

    [Fact]
    public void Rfc9111_3_3_a_partial_never_replaces_a_stored_complete_response_but_a_complete_one_replaces_a_partial()
    {
        const string Key = "https://example.com/p";
        var tier = new MemoryTier(1024 * 1024, 1024 * 1024);
        var complete = TestData.Stored(Headers(("Cache-Control", "max-age=60")));
        Assert.True(tier.Set(Key, complete));
        Assert.False(tier.Set(Key, Partial(0, 9, 100)));
        Assert.Same(complete, tier.Get(Key, Headers(), out _));

        tier.Remove(Key);
        Assert.True(tier.Set(Key, Partial(0, 9, 100)));
        var wider = Partial(0, 49, 100);
        Assert.True(tier.Set(Key, wider));
        Assert.Same(wider, tier.Get(Key, Headers(), out _));
        Assert.True(tier.Set(Key, complete));
        Assert.Same(complete, tier.Get(Key, Headers(), out _));
    }
}
