using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using static EdgeCache.Engine.Tests.TestData;

namespace EdgeCache.Engine.Tests;

public class CachedResponseFactoryTests
{
    private static string[] Names(CachedResponse r) => [.. r.Headers.Select(h => h.Key).Order(StringComparer.OrdinalIgnoreCase)];

    private static int CountOf(CachedResponse r, string name) => r.Headers.Count(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase));

    private static CachedResponse Create(HeaderDictionary response, DateTimeOffset? requestTime = null, DateTimeOffset? responseTime = null, CacheBody? body = null, HeaderDictionary? request = null) =>
        CachedResponseFactory.Create(200, response, request ?? Headers(), body ?? CacheBody.FromBytes([1, 2, 3, 4, 5]), requestTime ?? T0, responseTime ?? T0, HeuristicOptions.Default);

    [Fact]
    public void Rfc9111_3_1_Hop_by_hop_fields_and_fields_named_in_Connection_are_not_stored()
    {
        var response = Headers(
            ("Date", Http(T0)),
            ("Content-Type", "text/plain"),
            ("Content-Length", "5"),
            ("Connection", "close, X-Hop"),
            ("X-Hop", "1"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"),
            ("Transfer-Encoding", "chunked"),
            ("TE", "trailers"),
            ("Trailer", "X-Checksum"),
            ("Upgrade", "h2c"),
            ("Proxy-Authenticate", "Basic"),
            ("Proxy-Authentication-Info", "x"),
            ("X-End-To-End", "kept"));

        var stored = Create(response);

        Assert.Equal(["Content-Length", "Content-Type", "Date", "X-End-To-End"], Names(stored));
        Assert.Equal("kept", stored.GetHeader("x-end-to-end").ToString());
    }

    [Fact]
    public void Rfc9111_3_1_Connection_options_are_matched_case_insensitively_across_lines()
    {
        var response = Headers(("Date", Http(T0)), ("Connection", "x-one"), ("Connection", " X-TWO ,"), ("X-One", "1"), ("x-two", "2"), ("X-Three", "3"));

        Assert.Equal(["Date", "X-Three"], Names(Create(response)));
    }

    [Fact]
    public void Rfc9111_5_1_Age_and_Cache_Status_are_not_stored()
    {
        var stored = Create(Headers(("Date", Http(T0)), ("Age", "10"), ("Cache-Status", "upstream; hit"), ("ETag", "\"v1\"")));

        Assert.Equal(["Date", "ETag"], Names(stored));
    }

    [Theory]
    [InlineData(new[] { "7200, 0" }, false)]
    [InlineData(new[] { "7200", "0" }, false)]
    [InlineData(new[] { "10, 7200" }, true)]
    [InlineData(new[] { "10", "7200" }, true)]
    [InlineData(new[] { "7200;foo=bar" }, false)]
    [InlineData(new[] { "7200s" }, false)]
    [InlineData(new[] { "-5" }, false)]
    [InlineData(new[] { "0;x" }, false)]
    public void Rfc9111_5_1_a_stored_response_uses_the_first_Age_member_and_an_invalid_Age_is_stale(string[] ageLines, bool fresh)
    {
        var response = Headers(("Date", Http(T0)), ("Cache-Control", "max-age=600"));
        response["Age"] = new StringValues(ageLines);

        var stored = Create(response);

        Assert.Equal(fresh, stored.IsFresh(T0));
    }

    [Fact]
    public void Rfc9110_6_6_1_Date_is_added_when_missing()
    {
        var responseTime = T0.AddSeconds(7);

        var stored = Create(Headers(("Cache-Control", "max-age=60")), T0, responseTime);

        Assert.Equal(1, CountOf(stored, "Date"));
        Assert.Equal("Wed, 01 Jan 2025 12:00:07 GMT", stored.GetHeader("Date").ToString());
    }

    [Fact]
    public void Rfc9110_6_6_1_Unparseable_Date_is_replaced()
    {
        var stored = Create(Headers(("Date", "yesterday"), ("Cache-Control", "max-age=60")), T0, T0.AddSeconds(1));

        Assert.Equal(1, CountOf(stored, "Date"));
        Assert.Equal("Wed, 01 Jan 2025 12:00:01 GMT", stored.GetHeader("Date").ToString());
    }

    [Theory]
    [InlineData("Wed, 01 Jan 2025 11:59:50 +0000")]
    [InlineData("Wed, 01 Jan 2025 11:59:50 UTC")]
    [InlineData("Wed, 1 Jan 2025 11:59:50 GMT")]
    public void Rfc9110_6_6_1_Date_not_an_HTTP_date_is_replaced_by_the_receipt_time(string date)
    {
        var stored = Create(Headers(("Date", date), ("Cache-Control", "max-age=60")), T0, T0.AddSeconds(1));

        Assert.Equal(1, CountOf(stored, "Date"));
        Assert.Equal("Wed, 01 Jan 2025 12:00:01 GMT", stored.GetHeader("Date").ToString());
        Assert.Equal(TimeSpan.FromSeconds(1), stored.CorrectedInitialAge);
    }

    [Theory]
    [InlineData("Wed, 01 Jan 2025 02:00:00 +0000")]
    [InlineData("Wed, 01 Jan 2025 02:00:00")]
    [InlineData("last week")]
    public void Rfc9110_8_8_2_Last_Modified_not_an_HTTP_date_is_treated_as_absent(string lastModified)
    {
        var stored = Create(Headers(("Date", Http(T0)), ("Last-Modified", lastModified)));

        Assert.Null(stored.LastModified);
        Assert.False(stored.HeuristicFreshness);
        Assert.Equal(TimeSpan.Zero, stored.FreshnessLifetime);

        // Kept as sent, but it is not a validator: If-Modified-Since is compared with Date instead.
        Assert.Equal(lastModified, stored.GetHeader("Last-Modified").ToString());
        Assert.False(Conditionals.IsNotModified(Headers(("If-Modified-Since", Http(T0.AddHours(-5)))), stored));
    }

    [Fact]
    public void Rfc9110_5_3_a_Date_over_two_field_lines_is_invalid_and_replaced_by_the_receipt_time()
    {
        // The first line alone would date the response an hour back (Age 3600).
        var stored = Create(Headers(("Date", Http(T0.AddHours(-1))), ("Date", Http(T0)), ("Cache-Control", "max-age=7200")), T0, T0.AddSeconds(1));

        Assert.Equal(1, CountOf(stored, "Date"));
        Assert.Equal("Wed, 01 Jan 2025 12:00:01 GMT", stored.GetHeader("Date").ToString());
        Assert.Equal(TimeSpan.FromSeconds(1), stored.CorrectedInitialAge);
    }

    [Fact]
    public void Rfc9110_5_3_a_Last_Modified_over_two_field_lines_is_invalid_so_absent()
    {
        var stored = Create(Headers(("Date", Http(T0)), ("Last-Modified", Http(T0.AddDays(-10))), ("Last-Modified", Http(T0.AddDays(-10)))));

        Assert.Null(stored.LastModified);
        Assert.False(stored.HeuristicFreshness);
        Assert.Equal(TimeSpan.Zero, stored.FreshnessLifetime);
    }

    [Fact]
    public void Rfc9111_5_3_an_Expires_over_two_field_lines_is_invalid_so_in_the_past()
    {
        var stored = Create(Headers(("Date", Http(T0)), ("Expires", Http(T0.AddHours(1))), ("Expires", Http(T0.AddHours(1)))));

        Assert.Equal(TimeSpan.Zero, stored.FreshnessLifetime);
        Assert.False(stored.HeuristicFreshness);
    }

    [Fact]
    public void Rfc9110_6_6_1_Valid_Date_is_kept_as_sent()
    {
        var stored = Create(Headers(("Date", "Wed, 01 Jan 2025 11:59:50 GMT")), T0, T0.AddSeconds(1));

        Assert.Equal("Wed, 01 Jan 2025 11:59:50 GMT", stored.GetHeader("Date").ToString());
    }

    [Fact]
    public void Rfc9111_4_2_3_Create_computes_ages_from_Age_Date_and_clock()
    {
        // request 12:00:00, response 12:00:02, Date 11:59:57, Age 10 -> corrected_initial_age 12 s.
        var body = CacheBody.FromBytes([1, 2, 3, 4, 5]);
        var stored = Create(
            Headers(("Date", Http(T0.AddSeconds(-3))), ("Age", "10"), ("Cache-Control", "max-age=60"), ("ETag", "W/\"v1\""), ("Last-Modified", Http(T0.AddDays(-1)))),
            T0,
            T0.AddSeconds(2),
            body);

        Assert.Equal(200, stored.StatusCode);
        Assert.Same(body, stored.Body);
        Assert.Equal(5, stored.ContentLength);
        Assert.Equal(T0, stored.RequestTime);
        Assert.Equal(T0.AddSeconds(2), stored.ResponseTime);
        Assert.Equal(T0.AddSeconds(2), stored.StoredAt);
        Assert.Equal(TimeSpan.FromSeconds(12), stored.CorrectedInitialAge);
        Assert.Equal(TimeSpan.FromSeconds(60), stored.FreshnessLifetime);
        Assert.False(stored.HeuristicFreshness);
        Assert.Equal("W/\"v1\"", stored.ETag);
        Assert.Equal(T0.AddDays(-1), stored.LastModified);
        Assert.Equal(new CacheDirectives { Present = true, MaxAge = 60 }, stored.Directives);

        // Fresh while current_age < 60: 12 s at receipt, so until 48 s later.
        Assert.Equal(TimeSpan.FromSeconds(59), stored.CurrentAge(T0.AddSeconds(49)));
        Assert.True(stored.IsFresh(T0.AddSeconds(49)));
        Assert.False(stored.IsFresh(T0.AddSeconds(50)));
    }

    [Fact]
    public void Rfc9111_4_2_2_Create_uses_heuristic_freshness()
    {
        var stored = Create(Headers(("Date", Http(T0)), ("Last-Modified", Http(T0.AddHours(-10)))));

        Assert.Equal(TimeSpan.FromHours(1), stored.FreshnessLifetime);
        Assert.True(stored.HeuristicFreshness);
    }

    [Fact]
    public void Rfc9111_5_2_2_4_No_cache_gives_zero_lifetime()
    {
        var stored = Create(Headers(("Date", Http(T0)), ("Cache-Control", "no-cache, max-age=600")));

        Assert.Equal(TimeSpan.Zero, stored.FreshnessLifetime);
        Assert.False(stored.IsFresh(T0));
    }

    [Fact]
    public void Rfc9213_2_1_Create_takes_lifetime_from_CDN_Cache_Control()
    {
        var stored = Create(Headers(("Date", Http(T0)), ("Cache-Control", "max-age=5"), ("CDN-Cache-Control", "max-age=600"), ("Expires", Http(T0.AddSeconds(1)))));

        Assert.Equal(TimeSpan.FromSeconds(600), stored.FreshnessLifetime);
        Assert.Equal(600, stored.Directives.MaxAge);
        Assert.Equal("max-age=5", stored.GetHeader("Cache-Control").ToString());
    }

    [Fact]
    public void Rfc9111_4_1_Create_records_Vary_names_and_normalised_request_values()
    {
        var stored = Create(
            Headers(("Date", Http(T0)), ("Vary", "Accept-Encoding, Accept-Language")),
            request: Headers(("Accept-Encoding", "gzip, br"), ("Accept-Language", "en-GB,  en")));

        Assert.Equal(["accept-encoding", "accept-language"], stored.VaryNames);
        Assert.Equal(["br,gzip", "en-gb,en"], stored.VaryValues);
    }

    [Fact]
    public void Create_collects_surrogate_keys_and_cache_tags_once_each()
    {
        var stored = Create(Headers(("Date", Http(T0)), ("Surrogate-Key", "a  b"), ("Cache-Tag", "b, c"), ("Cache-Tag", "d")));

        Assert.Equal(["a", "b", "c", "d"], stored.Tags);
    }

    [Fact]
    public void Rfc9111_4_3_4_Freshen_replaces_headers_from_the_304_and_keeps_Content_Length()
    {
        var body = CacheBody.FromBytes([1, 2, 3, 4, 5]);
        var stored = Create(
            Headers(
                ("Date", Http(T0)),
                ("Content-Type", "text/plain"),
                ("Content-Length", "5"),
                ("Content-Encoding", "gzip"),
                ("Cache-Control", "max-age=60"),
                ("ETag", "\"v1\""),
                ("X-Old", "kept")),
            T0,
            T0,
            body);
        var notModified = Headers(
            ("Date", Http(T0.AddSeconds(100))),
            ("cache-control", "max-age=300"),
            ("ETag", "\"v1\""),
            ("Content-Length", "0"),
            ("Content-Encoding", "identity"),
            ("Age", "5"),
            ("Connection", "X-Hop"),
            ("X-Hop", "hop"),
            ("X-New", "added"));

        var updated = CachedResponseFactory.Freshen(stored, notModified, Headers(), T0.AddSeconds(99), T0.AddSeconds(100), HeuristicOptions.Default);

        Assert.Equal(["cache-control", "Content-Encoding", "Content-Length", "Content-Type", "Date", "ETag", "X-New", "X-Old"], Names(updated));
        Assert.Equal("5", updated.GetHeader("Content-Length").ToString());
        Assert.Equal("gzip", updated.GetHeader("Content-Encoding").ToString());
        Assert.Equal("max-age=300", updated.GetHeader("Cache-Control").ToString());
        Assert.Equal("Wed, 01 Jan 2025 12:01:40 GMT", updated.GetHeader("Date").ToString());
        Assert.Equal("kept", updated.GetHeader("X-Old").ToString());
        Assert.Equal("added", updated.GetHeader("X-New").ToString());
    }

    [Fact]
    public void Rfc9111_4_3_4_Freshen_shares_the_body_and_recomputes_freshness()
    {
        var body = CacheBody.FromBytes([1, 2, 3, 4, 5]);
        var stored = Create(Headers(("Date", Http(T0)), ("Cache-Control", "max-age=60"), ("ETag", "\"v1\"")), T0, T0, body);
        var notModified = Headers(("Date", Http(T0.AddSeconds(100))), ("Cache-Control", "max-age=300"), ("ETag", "\"v2\""), ("Age", "5"));

        var updated = CachedResponseFactory.Freshen(stored, notModified, Headers(), T0.AddSeconds(99), T0.AddSeconds(100), HeuristicOptions.Default);

        Assert.NotSame(stored, updated);
        Assert.Same(body, updated.Body);
        Assert.Same(stored.Body, updated.Body);
        Assert.Equal(TimeSpan.FromSeconds(300), updated.FreshnessLifetime);
        Assert.Equal(300, updated.Directives.MaxAge);
        Assert.Equal("\"v2\"", updated.ETag);
        // Ages restart at the 304: apparent_age 0, corrected_age_value = Age 5 + delay 1.
        Assert.Equal(TimeSpan.FromSeconds(6), updated.CorrectedInitialAge);
        Assert.Equal(T0.AddSeconds(100), updated.ResponseTime);
        Assert.Equal(T0, updated.StoredAt);
        Assert.True(updated.IsFresh(T0.AddSeconds(100 + 293)));
        Assert.False(updated.IsFresh(T0.AddSeconds(100 + 294)));
        // The original is untouched.
        Assert.Equal(TimeSpan.FromSeconds(60), stored.FreshnessLifetime);
        Assert.Equal("max-age=60", stored.GetHeader("Cache-Control").ToString());
    }

    [Fact]
    public void Rfc9111_4_3_4_Freshen_without_Date_in_the_304_dates_the_response_at_receipt()
    {
        var stored = Create(Headers(("Date", Http(T0)), ("Cache-Control", "max-age=60")));

        var updated = CachedResponseFactory.Freshen(stored, Headers(("Cache-Control", "max-age=120")), Headers(), T0.AddSeconds(500), T0.AddSeconds(501), HeuristicOptions.Default);

        Assert.Equal(1, CountOf(updated, "Date"));
        Assert.Equal("Wed, 01 Jan 2025 12:08:21 GMT", updated.GetHeader("Date").ToString());
        Assert.Equal(TimeSpan.FromSeconds(1), updated.CorrectedInitialAge);
        Assert.Equal(TimeSpan.FromSeconds(120), updated.FreshnessLifetime);
    }

    [Fact]
    public void Rfc9111_4_3_4_Freshen_with_unparseable_Date_in_the_304_dates_the_response_at_receipt()
    {
        var stored = Create(Headers(("Date", Http(T0)), ("Cache-Control", "max-age=60")));

        var updated = CachedResponseFactory.Freshen(stored, Headers(("Date", "soon")), Headers(), T0.AddSeconds(10), T0.AddSeconds(10), HeuristicOptions.Default);

        Assert.Equal(1, CountOf(updated, "Date"));
        Assert.Equal("Wed, 01 Jan 2025 12:00:10 GMT", updated.GetHeader("Date").ToString());
        Assert.Equal(TimeSpan.FromSeconds(60), updated.FreshnessLifetime);
        Assert.True(updated.IsFresh(T0.AddSeconds(69)));
    }

    [Fact]
    public void Rfc9111_4_3_4_Freshen_keeps_the_status_and_Vary_of_the_stored_response()
    {
        var stored = CachedResponseFactory.Create(
            404,
            Headers(("Date", Http(T0)), ("Vary", "Accept-Language"), ("Cache-Control", "max-age=60")),
            Headers(("Accept-Language", "de")),
            CacheBody.FromBytes([]),
            T0,
            T0,
            HeuristicOptions.Default);

        var updated = CachedResponseFactory.Freshen(stored, Headers(("Date", Http(T0.AddSeconds(5)))), Headers(("Accept-Language", "de")), T0.AddSeconds(5), T0.AddSeconds(5), HeuristicOptions.Default);

        Assert.Equal(404, updated.StatusCode);
        Assert.Equal(["accept-language"], updated.VaryNames);
        Assert.Equal(["de"], updated.VaryValues);
        Assert.Equal(0, updated.ContentLength);
    }

    [Fact]
    public void Size_estimate_counts_body_and_headers()
    {
        KeyValuePair<string, StringValues>[] headers = [new("Date", "x"), new("A", new StringValues(["bb", "ccc"]))];

        // objects + body 1000 + (32 + 4*2 + 24 + 1*2) + (32 + 1*2 + 24 + 2*2 + 24 + 3*2)
        Assert.Equal(CachedResponse.ObjectBytes + 1000 + 66 + 92, CachedResponse.EstimateSize(headers, 1000));
    }
}
