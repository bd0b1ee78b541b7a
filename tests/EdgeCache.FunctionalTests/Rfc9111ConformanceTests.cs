using System.Net;
using System.Net.Http.Headers;
using EdgeCache.FunctionalTests.Infrastructure;
using Microsoft.AspNetCore.Http;
using HeaderUtilities = Microsoft.Net.Http.Headers.HeaderUtilities;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// One test per requirement of RFC 9111 (and the RFC 9110, 5861, 9211 and 9213 rules a shared
/// cache must keep), named after the section, run through the whole chain: client → edge →
/// shield → origin. Assertions are on what the client and the origin see.
/// </summary>
[Collection(CdnFixtureGroup.Name)]
public sealed class Rfc9111ConformanceTests(Topology cdn)
{
    private static string NewPath() => "/rfc/" + Guid.NewGuid().ToString("N");

    private async Task<HttpResponseMessage> Get(string path, Action<HttpRequestMessage>? configure = null, int edge = 0) =>
        await cdn.GetAsync(edge, path, configure: configure);

    private async Task<HttpResponseMessage> Send(HttpMethod method, string path, Action<HttpRequestMessage>? configure = null) =>
        await cdn.GetAsync(0, path, configure: configure, method: method);

    private static bool IsHit(HttpResponseMessage r) => r.EdgeStatus().StartsWith("EdgeCache-Edge; hit", StringComparison.Ordinal);

    [Fact]
    public async Task Rfc9111_3_a_response_with_max_age_is_stored_and_reused()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=60"));
        (await Get(path)).Dispose();
        using var r = await Get(path);
        Assert.True(IsHit(r));
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Theory]
    [InlineData("7200s")]
    [InlineData("7200;foo=bar")]
    [InlineData("-1")]
    [InlineData("-5")]
    [InlineData("7200;foo=bar, 0")]
    public async Task Rfc9111_5_1_an_Age_that_is_not_delta_seconds_makes_the_response_stale_not_fresh(string age)
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=600"), ("Age", age));
        (await Get(path)).Dispose();
        using var second = await Get(path);
        Assert.False(IsHit(second));
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_5_1_an_Age_list_uses_its_first_member()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=600"), ("Age", "10, 7200"));
        (await Get(path)).Dispose();
        using var second = await Get(path);
        Assert.True(IsHit(second));
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_5_1_an_Age_list_whose_first_member_is_past_max_age_is_stale()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=600"), ("Age", "7200, 0"));
        using var first = await Get(path);
        Assert.Equal("x", await first.BodyAsync());
        using var second = await Get(path);
        Assert.False(IsHit(second));
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Theory]
    [InlineData("7200", "0", false)]
    [InlineData("10", "7200", true)]
    public async Task Rfc9111_5_1_two_Age_field_lines_use_the_first(string firstLine, string secondLine, bool reused)
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=600"), ("Age", firstLine), ("Age", secondLine));
        (await Get(path)).Dispose();
        using var second = await Get(path);
        Assert.Equal(reused, IsHit(second));
        Assert.Equal(reused ? 1 : 2, cdn.Origin.Count(path));
        if (reused) Assert.True(long.Parse(second.Header("Age"), System.Globalization.CultureInfo.InvariantCulture) >= 10);
    }

    [Fact]
    public async Task Rfc9111_4_1_Accept_Language_values_that_mean_the_same_select_one_variant()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            ctx.Response.Headers.Vary = "Accept-Language";
            return ctx.Response.WriteAsync("lang=" + ctx.Request.Headers.AcceptLanguage);
        });
        (await Get(path, m => m.Headers.TryAddWithoutValidation("Accept-Language", "en-GB, en;q=0.9"))).Dispose();
        foreach (var same in new[] { "EN-gb,en;q=0.90", "en;q=0.9, en-GB" })
        {
            using var r = await Get(path, m => m.Headers.TryAddWithoutValidation("Accept-Language", same));
            Assert.True(IsHit(r), same + ": " + r.EdgeStatus());
        }

        using var other = await Get(path, m => m.Headers.TryAddWithoutValidation("Accept-Language", "en, en-GB"));
        Assert.False(IsHit(other));
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_4_1_an_unknown_selecting_field_that_differs_only_by_whitespace_around_list_members_selects_one_variant()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            ctx.Response.Headers.Vary = "X-Features";
            return ctx.Response.WriteAsync("features=" + ctx.Request.Headers["X-Features"]);
        });
        using var first = await Get(path, m => m.Headers.TryAddWithoutValidation("X-Features", "webp, avif"));
        Assert.Equal("features=webp, avif", await first.BodyAsync());
        foreach (var same in new[] { "webp,avif", "webp ,  avif", "\twebp,avif " })
        {
            using var r = await Get(path, m => m.Headers.TryAddWithoutValidation("X-Features", same));
            Assert.True(IsHit(r), same + ": " + r.EdgeStatus());
            Assert.Equal("features=webp, avif", await r.BodyAsync());
        }

        var lines = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path, "X-Features: webp\r\nX-Features: avif\r\n"), [false]))[0];
        Assert.StartsWith("EdgeCache-Edge; hit", lines.Headers("Cache-Status")[^1], StringComparison.Ordinal);
        Assert.Equal(1, cdn.Origin.Count(path));

        foreach (var other in new[] { "avif, webp", "webpavif", "WEBP, AVIF" })
        {
            using var r = await Get(path, m => m.Headers.TryAddWithoutValidation("X-Features", other));
            Assert.False(IsHit(r), other);
            Assert.Equal("features=" + other, await r.BodyAsync());
        }

        Assert.Equal(4, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_3_a_302_without_explicit_freshness_is_not_stored()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.StatusCode = 302;
            ctx.Response.Headers.Location = "/elsewhere";
            return Task.CompletedTask;
        });
        (await Get(path)).Dispose();
        using var r = await Get(path);
        Assert.Equal(HttpStatusCode.Found, r.StatusCode);
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_3_a_302_with_max_age_is_stored()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.StatusCode = 302;
            ctx.Response.Headers.Location = "/elsewhere";
            ctx.Response.Headers.CacheControl = "max-age=60";
            return Task.CompletedTask;
        });
        (await Get(path)).Dispose();
        using var r = await Get(path);
        Assert.Equal(HttpStatusCode.Found, r.StatusCode);
        Assert.Equal("/elsewhere", r.Header("Location"));
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_3_5_a_response_to_a_request_with_Authorization_is_not_stored_unless_allowed()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "mine", ("Cache-Control", "max-age=60"));
        void Auth(HttpRequestMessage m) => m.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "t0ken");
        (await Get(path, Auth)).Dispose();
        (await Get(path)).Dispose();
        Assert.Equal(2, cdn.Origin.Count(path));

        var shared = NewPath();
        cdn.Origin.MapStatic(shared, "shared", ("Cache-Control", "public, max-age=60"));
        (await Get(shared, Auth)).Dispose();
        using var r = await Get(shared);
        Assert.True(IsHit(r));
        Assert.Equal(1, cdn.Origin.Count(shared));
    }

    [Fact]
    public async Task Rfc9111_4_1_Vary_star_never_matches()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=60"), ("Vary", "*"));
        (await Get(path)).Dispose();
        (await Get(path)).Dispose();
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_4_1_Accept_Encoding_is_normalised_before_matching_Vary()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=60"), ("Vary", "Accept-Encoding"));
        (await Get(path, m => m.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip, br"))).Dispose();
        using var r = await Get(path, m => m.Headers.TryAddWithoutValidation("Accept-Encoding", "br;q=1.0,gzip;q=0.8, unknown"));
        Assert.True(IsHit(r));
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_4_2_1_s_maxage_overrides_max_age_in_a_shared_cache()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=1, s-maxage=100"));
        (await Get(path)).Dispose();
        cdn.Clock.Advance(TimeSpan.FromSeconds(10));
        using var r = await Get(path);
        Assert.True(IsHit(r));
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_4_2_1_Expires_gives_freshness_when_max_age_is_absent()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.Expires = HeaderUtilities.FormatDate(cdn.Origin.Now.AddSeconds(60));
            return ctx.Response.WriteAsync("x");
        });
        (await Get(path)).Dispose();
        cdn.Clock.Advance(TimeSpan.FromSeconds(30));
        using var r = await Get(path);
        Assert.True(IsHit(r));
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_5_3_an_invalid_Expires_such_as_0_means_already_expired()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Expires", "0"));
        (await Get(path)).Dispose();
        using var r = await Get(path);
        Assert.False(IsHit(r));
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_5_3_an_Expires_over_two_field_lines_is_invalid_so_already_expired()
    {
        // Two lines are one value, "d, d" (RFC 9110 §5.3), which is no HTTP-date: a time in the past.
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            var later = HeaderUtilities.FormatDate(cdn.Origin.Now.AddHours(1));
            ctx.Response.Headers.Expires = new Microsoft.Extensions.Primitives.StringValues([later, later]);
            return ctx.Response.WriteAsync("x");
        });
        using var first = await Get(path);
        Assert.Equal("x", await first.BodyAsync());
        using var second = await Get(path);
        Assert.False(IsHit(second));
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9110_5_3_a_Date_over_two_field_lines_is_invalid_and_replaced_so_its_first_line_does_not_age_the_response()
    {
        // The first line alone would make the response an hour old on arrival (Age: 3600).
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=7200";
            ctx.Response.Headers.Date = new Microsoft.Extensions.Primitives.StringValues(
                [HeaderUtilities.FormatDate(cdn.Origin.Now.AddHours(-1)), HeaderUtilities.FormatDate(cdn.Origin.Now)]);
            return ctx.Response.WriteAsync("x");
        });
        (await Get(path)).Dispose();
        var hit = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path), [false]))[0];

        Assert.StartsWith("EdgeCache-Edge; hit", hit.Headers("Cache-Status")[^1], StringComparison.Ordinal);
        Assert.Single(hit.Headers("Date"));
        Assert.True(long.Parse(hit.Header("Age")!, System.Globalization.CultureInfo.InvariantCulture) < 60, "Age: " + hit.Header("Age"));
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9110_5_3_a_Last_Modified_over_two_field_lines_is_invalid_so_gives_no_heuristic_freshness()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            var old = HeaderUtilities.FormatDate(cdn.Origin.Now.AddDays(-10));
            ctx.Response.Headers.LastModified = new Microsoft.Extensions.Primitives.StringValues([old, old]);
            return ctx.Response.WriteAsync("x");
        });
        (await Get(path)).Dispose();
        using var r = await Get(path);
        Assert.False(IsHit(r));
        Assert.Equal("x", await r.BodyAsync());
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9110_13_1_3_an_If_Modified_Since_over_two_field_lines_is_ignored()
    {
        // "A recipient MUST ignore the If-Modified-Since header field if ... the field value has more than one member."
        var path = NewPath();
        var lastModified = cdn.Origin.Now.AddDays(-1);
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=600"), ("Last-Modified", HeaderUtilities.FormatDate(lastModified)));
        (await Get(path)).Dispose();
        var after = HeaderUtilities.FormatDate(lastModified.AddHours(1));
        var before = HeaderUtilities.FormatDate(lastModified.AddHours(-1));

        var responses = await RawHttp.ExchangeAsync(
            cdn.EdgeUri(0),
            RawHttp.Get(path, $"If-Modified-Since: {after}\r\nIf-Modified-Since: {before}\r\n")
            + RawHttp.Get(path, $"If-Modified-Since: {after}\r\nIf-Modified-Since: {after}\r\n")
            + RawHttp.Get(path, $"If-Modified-Since: {after}\r\n"),
            [false, false, false]);

        Assert.StartsWith("HTTP/1.1 200", responses[0].StatusLine, StringComparison.Ordinal);
        Assert.Equal("x"u8.ToArray(), responses[0].Body);
        Assert.StartsWith("HTTP/1.1 200", responses[1].StatusLine, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 304", responses[2].StatusLine, StringComparison.Ordinal);
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9110_13_1_5_an_If_Range_over_two_field_lines_does_not_allow_the_range()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "abcdef", ("Cache-Control", "max-age=600"), ("ETag", "\"v1\""));
        (await Get(path)).Dispose();

        var responses = await RawHttp.ExchangeAsync(
            cdn.EdgeUri(0),
            RawHttp.Get(path, "Range: bytes=0-1\r\nIf-Range: \"v1\"\r\nIf-Range: \"v1\"\r\n")
            + RawHttp.Get(path, "Range: bytes=0-1\r\nIf-Range: \"v1\"\r\n"),
            [false, false]);

        Assert.StartsWith("HTTP/1.1 200", responses[0].StatusLine, StringComparison.Ordinal);
        Assert.Equal("abcdef"u8.ToArray(), responses[0].Body);
        Assert.StartsWith("HTTP/1.1 206", responses[1].StatusLine, StringComparison.Ordinal);
        Assert.Equal("ab"u8.ToArray(), responses[1].Body);
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_4_2_2_heuristic_freshness_from_Last_Modified()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.LastModified = HeaderUtilities.FormatDate(cdn.Origin.Now.AddDays(-10));
            return ctx.Response.WriteAsync("x");
        });
        (await Get(path)).Dispose();
        cdn.Clock.Advance(TimeSpan.FromHours(1));
        using var r = await Get(path);
        Assert.True(IsHit(r));
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Theory]
    [InlineData(200)]
    [InlineData(203)]
    [InlineData(204)]
    [InlineData(300)]
    [InlineData(301)]
    [InlineData(308)]
    [InlineData(404)]
    [InlineData(405)]
    [InlineData(410)]
    [InlineData(414)]
    [InlineData(501)]
    public async Task Rfc9111_4_2_2_every_heuristically_cacheable_status_gets_heuristic_freshness(int status)
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.StatusCode = status;
            ctx.Response.Headers.LastModified = HeaderUtilities.FormatDate(cdn.Origin.Now.AddDays(-10));
            if (status is >= 300 and < 400) ctx.Response.Headers.Location = "/elsewhere";
            return status == 204 ? Task.CompletedTask : ctx.Response.WriteAsync("s" + status);
        });
        (await Get(path)).Dispose();
        cdn.Clock.Advance(TimeSpan.FromMinutes(10));
        using var r = await Get(path);
        Assert.Equal(status, (int)r.StatusCode);
        Assert.Equal(status == 204 ? "" : "s" + status, await r.BodyAsync());
        Assert.True(IsHit(r), r.EdgeStatus());
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Theory]
    [InlineData(302)]
    [InlineData(307)]
    public async Task Rfc9111_4_2_2_public_allows_heuristic_freshness_for_a_status_that_is_not_heuristically_cacheable(int status)
    {
        var path = NewPath();
        var plain = NewPath();
        foreach (var (p, cc) in new[] { (path, "public"), (plain, "") })
        {
            cdn.Origin.Map(p, ctx =>
            {
                ctx.Response.StatusCode = status;
                ctx.Response.Headers.Location = "/elsewhere";
                ctx.Response.Headers.LastModified = HeaderUtilities.FormatDate(cdn.Origin.Now.AddDays(-10));
                if (cc.Length > 0) ctx.Response.Headers.CacheControl = cc;
                return Task.CompletedTask;
            });
            (await Get(p)).Dispose();
        }

        cdn.Clock.Advance(TimeSpan.FromMinutes(10));
        using var r = await Get(path);
        using var notPublic = await Get(plain);
        Assert.Equal(status, (int)r.StatusCode);
        Assert.True(IsHit(r), r.EdgeStatus());
        Assert.Equal(1, cdn.Origin.Count(path));
        Assert.False(IsHit(notPublic));
        Assert.Equal(2, cdn.Origin.Count(plain));
    }

    [Fact]
    public async Task Rfc9111_5_2_2_3_must_understand_with_an_understood_status_is_stored_despite_no_store()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "must-understand, no-store, max-age=600"));
        (await Get(path)).Dispose();
        using var r = await Get(path);
        Assert.True(IsHit(r), r.EdgeStatus());
        Assert.Equal("x", await r.BodyAsync());
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Theory]
    [InlineData(299)]
    [InlineData(599)]
    public async Task Rfc9111_5_2_2_3_must_understand_with_a_status_the_cache_does_not_understand_keeps_no_store(int status)
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.StatusCode = status;
            ctx.Response.Headers.CacheControl = "must-understand, no-store, max-age=600";
            return ctx.Response.WriteAsync("odd");
        });
        (await Get(path)).Dispose();
        using var r = await Get(path);
        Assert.Equal(status, (int)r.StatusCode);
        Assert.False(IsHit(r));
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_4_2_3_Age_on_a_hit_is_the_resident_time_plus_the_initial_age()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=600"), ("Age", "20"));
        using var first = await Get(path);
        Assert.Equal("20", first.Header("Age"));
        cdn.Clock.Advance(TimeSpan.FromSeconds(7));
        using var hit = await Get(path);
        Assert.True(IsHit(hit));
        Assert.Equal("27", hit.Header("Age"));
        using var fromShield = await Get(path, edge: 1);
        Assert.Equal("27", fromShield.Header("Age"));
    }

    [Fact]
    public async Task Rfc9111_4_2_3_an_upstream_Age_counts_against_freshness()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=60"), ("Age", "50"));
        (await Get(path)).Dispose();
        cdn.Clock.Advance(TimeSpan.FromSeconds(15));
        using var r = await Get(path);
        Assert.False(IsHit(r));
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_4_3_1_a_stale_response_with_Last_Modified_is_revalidated_with_If_Modified_Since()
    {
        var path = NewPath();
        const string lm = "Mon, 02 Nov 2026 10:00:00 GMT";
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=10";
            ctx.Response.Headers.LastModified = lm;
            if (ctx.Request.Headers.IfModifiedSince == lm)
            {
                ctx.Response.StatusCode = 304;
                return Task.CompletedTask;
            }

            return ctx.Response.WriteAsync("body");
        });
        (await Get(path)).Dispose();
        cdn.Clock.Advance(TimeSpan.FromSeconds(20));
        using var r = await Get(path);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("body", await r.BodyAsync());
        Assert.Equal(lm, cdn.Origin.Requests(path)[1].Headers["If-Modified-Since"]);
    }

    [Fact]
    public async Task Rfc9111_4_3_2_a_client_conditional_request_is_answered_304_from_the_cache()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "body", ("Cache-Control", "max-age=60"), ("ETag", "\"abc\""));
        (await Get(path)).Dispose();
        using var r = await Get(path, m => m.Headers.IfNoneMatch.ParseAdd("\"abc\""));
        Assert.Equal(HttpStatusCode.NotModified, r.StatusCode);
        Assert.Equal("\"abc\"", r.Header("ETag"));
        Assert.Equal("", await r.BodyAsync());
        Assert.Equal(1, cdn.Origin.Count(path));

        using var other = await Get(path, m => m.Headers.IfNoneMatch.ParseAdd("\"other\""));
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.Equal("body", await other.BodyAsync());
    }

    [Theory]
    [InlineData("\"a,b\"", HttpStatusCode.NotModified)]
    [InlineData("\"x\", \"a,b\"", HttpStatusCode.NotModified)]
    [InlineData("W/\"a,b\"", HttpStatusCode.NotModified)]
    [InlineData("\"x\",W/\"a,b\" ,\"y\"", HttpStatusCode.NotModified)]
    [InlineData("\"a\"", HttpStatusCode.OK)]
    [InlineData("\"b\"", HttpStatusCode.OK)]
    [InlineData("\"a\", \"b\"", HttpStatusCode.OK)]
    public async Task Rfc9110_8_8_3_If_None_Match_with_an_entity_tag_that_contains_a_comma_still_matches(string ifNoneMatch, HttpStatusCode expected)
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "body", ("Cache-Control", "max-age=600"), ("ETag", "\"a,b\""));
        (await Get(path)).Dispose();
        using var r = await Get(path, m => m.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch));
        Assert.Equal(expected, r.StatusCode);
        Assert.Equal(expected == HttpStatusCode.OK ? "body" : "", await r.BodyAsync());
        Assert.Equal("\"a,b\"", r.Header("ETag"));
        Assert.True(IsHit(r), r.EdgeStatus());
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_4_3_4_a_304_updates_the_stored_header_fields()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=10";
            ctx.Response.Headers.ETag = "\"e\"";
            if (ctx.Request.Headers.IfNoneMatch == "\"e\"")
            {
                ctx.Response.Headers["X-Version"] = "2";
                ctx.Response.StatusCode = 304;
                return Task.CompletedTask;
            }

            ctx.Response.Headers["X-Version"] = "1";
            return ctx.Response.WriteAsync("body");
        });
        (await Get(path)).Dispose();
        cdn.Clock.Advance(TimeSpan.FromSeconds(20));
        (await Get(path)).Dispose();
        using var r = await Get(path);
        Assert.True(IsHit(r));
        Assert.Equal("2", r.Header("X-Version"));
        Assert.Equal("body", await r.BodyAsync());
    }

    [Fact]
    public async Task Rfc9111_4_4_a_successful_unsafe_request_invalidates_the_target_and_same_origin_Location()
    {
        var path = NewPath();
        var other = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=600"));
        cdn.Origin.MapStatic(other, "y", ("Cache-Control", "max-age=600"));
        (await Get(path)).Dispose();
        (await Get(other)).Dispose();

        cdn.Origin.Map(path + "/update", _ => Task.CompletedTask);
        cdn.Origin.Map(path, ctx =>
        {
            if (HttpMethods.IsPost(ctx.Request.Method))
            {
                ctx.Response.StatusCode = 201;
                ctx.Response.Headers.Location = other;
                return Task.CompletedTask;
            }

            ctx.Response.Headers.CacheControl = "max-age=600";
            return ctx.Response.WriteAsync("x2");
        });

        using var post = await Send(HttpMethod.Post, path, m => m.Content = new StringContent("data"));
        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        Assert.Contains("fwd=method", post.EdgeStatus(), StringComparison.Ordinal);

        using var afterPath = await Get(path);
        using var afterOther = await Get(other);
        Assert.False(IsHit(afterPath));
        Assert.False(IsHit(afterOther));
        Assert.Equal("x2", await afterPath.BodyAsync());
    }

    [Fact]
    public async Task Rfc9111_4_4_a_failed_unsafe_request_does_not_invalidate()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            if (HttpMethods.IsDelete(ctx.Request.Method))
            {
                ctx.Response.StatusCode = 500;
                return Task.CompletedTask;
            }

            ctx.Response.Headers.CacheControl = "max-age=600";
            return ctx.Response.WriteAsync("x");
        });
        (await Get(path)).Dispose();
        using var delete = await Send(HttpMethod.Delete, path);
        Assert.Equal(HttpStatusCode.InternalServerError, delete.StatusCode);
        using var r = await Get(path);
        Assert.True(IsHit(r));
    }

    [Fact]
    public async Task Rfc9111_5_2_1_1_request_max_age_rejects_older_stored_responses()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=600"));
        (await Get(path)).Dispose();
        cdn.Clock.Advance(TimeSpan.FromSeconds(5));
        using var r = await Get(path, m => m.Headers.CacheControl = new CacheControlHeaderValue { MaxAge = TimeSpan.FromSeconds(2) });
        Assert.False(IsHit(r));
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_5_2_1_2_request_max_stale_accepts_a_stale_response()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=10"));
        (await Get(path)).Dispose();
        cdn.Clock.Advance(TimeSpan.FromSeconds(15));
        using var r = await Get(path, m => m.Headers.CacheControl = new CacheControlHeaderValue { MaxStale = true, MaxStaleLimit = TimeSpan.FromSeconds(30) });
        Assert.True(IsHit(r));
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_5_2_1_3_request_min_fresh_rejects_responses_that_will_soon_be_stale()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=60"));
        (await Get(path)).Dispose();
        cdn.Clock.Advance(TimeSpan.FromSeconds(50));
        using var r = await Get(path, m => m.Headers.CacheControl = new CacheControlHeaderValue { MinFresh = TimeSpan.FromSeconds(20) });
        Assert.False(IsHit(r));
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_5_2_1_5_request_no_store_prevents_storing_the_response()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=60"));
        (await Get(path, m => m.Headers.CacheControl = new CacheControlHeaderValue { NoStore = true })).Dispose();
        (await Get(path)).Dispose();
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_5_2_1_7_only_if_cached_gets_504_on_a_miss_and_the_stored_response_on_a_hit()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=60"));
        void OnlyIfCached(HttpRequestMessage m) => m.Headers.CacheControl = new CacheControlHeaderValue { OnlyIfCached = true };
        using var miss = await Get(path, OnlyIfCached);
        Assert.Equal(HttpStatusCode.GatewayTimeout, miss.StatusCode);
        Assert.Equal(0, cdn.Origin.Count(path));
        (await Get(path)).Dispose();
        using var hit = await Get(path, OnlyIfCached);
        Assert.Equal(HttpStatusCode.OK, hit.StatusCode);
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_5_2_2_2_must_revalidate_forbids_serving_stale_even_with_stale_if_error()
    {
        var path = NewPath();
        var failing = false;
        cdn.Origin.Map(path, ctx =>
        {
            if (Volatile.Read(ref failing))
            {
                ctx.Response.StatusCode = 503;
                return Task.CompletedTask;
            }

            ctx.Response.Headers.CacheControl = "max-age=10, must-revalidate, stale-if-error=600";
            return ctx.Response.WriteAsync("x");
        });
        (await Get(path)).Dispose();
        Volatile.Write(ref failing, true);
        cdn.Clock.Advance(TimeSpan.FromSeconds(20));
        using var r = await Get(path, m => m.Headers.CacheControl = new CacheControlHeaderValue { MaxStale = true });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
    }

    [Fact]
    public async Task Rfc9111_5_2_2_4_response_no_cache_is_stored_but_revalidated_on_every_use()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "no-cache";
            ctx.Response.Headers.ETag = "\"n\"";
            if (ctx.Request.Headers.IfNoneMatch == "\"n\"")
            {
                ctx.Response.StatusCode = 304;
                return Task.CompletedTask;
            }

            return ctx.Response.WriteAsync("body");
        });
        (await Get(path)).Dispose();
        using var r = await Get(path);
        Assert.Equal("body", await r.BodyAsync());
        Assert.Equal(2, cdn.Origin.Count(path));
        Assert.Equal("\"n\"", cdn.Origin.Requests(path)[1].Headers["If-None-Match"]);
    }

    [Fact]
    public async Task Rfc9111_5_2_2_8_proxy_revalidate_forbids_a_shared_cache_from_serving_stale()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=10, proxy-revalidate"));
        (await Get(path)).Dispose();
        cdn.Clock.Advance(TimeSpan.FromSeconds(20));
        using var r = await Get(path, m => m.Headers.CacheControl = new CacheControlHeaderValue { MaxStale = true });
        Assert.False(IsHit(r));
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9110_9_3_2_HEAD_is_answered_from_a_stored_GET_response()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "0123456789", ("Cache-Control", "max-age=60"));
        (await Get(path)).Dispose();
        using var head = await Send(HttpMethod.Head, path);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(10, head.Content.Headers.ContentLength);
        Assert.Equal("", await head.BodyAsync());
        Assert.True(IsHit(head));
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9110_14_a_single_range_is_served_206_from_the_stored_full_response()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "0123456789abcdefghij", ("Cache-Control", "max-age=60"), ("ETag", "\"r\""));
        using var miss = await Get(path, m => m.Headers.Range = new RangeHeaderValue(5, 9));
        Assert.Equal(HttpStatusCode.PartialContent, miss.StatusCode);
        Assert.Equal("56789", await miss.BodyAsync());
        Assert.Equal("bytes 5-9/20", miss.Header("Content-Range"));
        Assert.False(cdn.Origin.Requests(path)[0].Headers.ContainsKey("Range"));

        using var suffix = await Get(path, m => m.Headers.Range = new RangeHeaderValue(null, 3));
        Assert.Equal("hij", await suffix.BodyAsync());
        using var longSuffix = await Get(path, m => m.Headers.Range = new RangeHeaderValue(null, 500));
        Assert.Equal(HttpStatusCode.PartialContent, longSuffix.StatusCode);
        Assert.Equal("0123456789abcdefghij", await longSuffix.BodyAsync());
        using var unsatisfiable = await Get(path, m => m.Headers.Range = new RangeHeaderValue(100, 200));
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, unsatisfiable.StatusCode);
        Assert.Equal("bytes */20", unsatisfiable.Header("Content-Range"));
        using var ifRangeMismatch = await Get(path, m =>
        {
            m.Headers.Range = new RangeHeaderValue(0, 1);
            m.Headers.IfRange = new RangeConditionHeaderValue("\"other\"");
        });
        Assert.Equal(HttpStatusCode.OK, ifRangeMismatch.StatusCode);
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9110_7_6_hop_by_hop_fields_are_stripped_and_Via_Host_and_X_Forwarded_For_are_set_by_the_edge()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=60"), ("X-Origin-Thing", "kept"), ("Connection", "X-Origin-Hop"), ("X-Origin-Hop", "dropped"));
        using var r = await Get(path, m =>
        {
            m.Headers.Connection.Add("X-Hop");
            m.Headers.TryAddWithoutValidation("X-Hop", "secret");
            m.Headers.TryAddWithoutValidation("X-End-To-End", "kept");
            m.Headers.TryAddWithoutValidation("X-Forwarded-For", "203.0.113.9");
        });
        var seen = cdn.Origin.Requests(path)[0].Headers;
        Assert.False(seen.ContainsKey("X-Hop"));
        Assert.Equal("kept", seen["X-End-To-End"]);
        Assert.Equal(Topology.Site, seen["Host"]);
        Assert.Equal("127.0.0.1", seen["X-Forwarded-For"]);
        Assert.Equal("1.1 edge-1, 1.1 " + ShieldOf(r), seen["Via"]);
        Assert.Equal("kept", r.Header("X-Origin-Thing"));
        Assert.Equal("", r.Header("X-Origin-Hop"));
        using var hit = await Get(path);
        Assert.True(IsHit(hit));
        Assert.Equal("", hit.Header("X-Origin-Hop"));
        Assert.EndsWith("1.1 edge-1", r.Header("Via"), StringComparison.Ordinal);
    }

    private static string ShieldOf(HttpResponseMessage r) => r.Header("Via").Split(", ")[0].Split(' ')[1];

    [Fact]
    public async Task Rfc9213_CDN_Cache_Control_governs_the_tiers_and_is_passed_on_to_clients()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "no-store"), ("CDN-Cache-Control", "max-age=60"));
        using var first = await Get(path);
        using var second = await Get(path);
        Assert.True(IsHit(second));
        Assert.Equal("no-store", second.Header("Cache-Control"));
        Assert.Equal("max-age=60", second.Header("CDN-Cache-Control"));
        Assert.Equal("max-age=60", first.Header("CDN-Cache-Control"));
        Assert.Equal(1, cdn.Origin.Count(path));

        var forbidden = NewPath();
        cdn.Origin.MapStatic(forbidden, "x", ("Cache-Control", "max-age=60"), ("CDN-Cache-Control", "no-store"));
        (await Get(forbidden)).Dispose();
        using var again = await Get(forbidden);
        Assert.Equal("no-store", again.Header("CDN-Cache-Control"));
        Assert.Equal(2, cdn.Origin.Count(forbidden));
    }

    [Theory]
    [InlineData("max-age=\"10000\"")]
    [InlineData("max-age=10000.5")]
    [InlineData("max-age=10000,")]
    [InlineData("Max-Age=10000")]
    public async Task Rfc9213_2_1_an_invalid_CDN_Cache_Control_is_ignored_entirely_and_Cache_Control_no_store_holds(string invalid)
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "no-store"), ("CDN-Cache-Control", invalid));
        using var first = await Get(path);
        Assert.Equal("x", await first.BodyAsync());
        using var second = await Get(path);
        Assert.False(IsHit(second));
        Assert.Equal("x", await second.BodyAsync());
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Theory]
    [InlineData("max-age=600;foo=bar")]
    [InlineData("max-age=600;foo=\"a, b\";n=1.5")]
    [InlineData("public;x, max-age=600;y")]
    public async Task Rfc9213_2_1_parameters_on_CDN_Cache_Control_members_are_ignored_so_max_age_applies(string field)
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "no-store"), ("CDN-Cache-Control", field));
        using var first = await Get(path);
        Assert.Equal("x", await first.BodyAsync());
        using var second = await Get(path);
        Assert.True(IsHit(second), second.EdgeStatus());
        Assert.Equal("x", await second.BodyAsync());
        Assert.Equal(field, second.Header("CDN-Cache-Control"));
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9213_2_EdgeCache_Cache_Control_wins_over_CDN_Cache_Control_in_both_tiers_and_never_leaves_the_edge()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "no-store"), ("CDN-Cache-Control", "no-store"), ("EdgeCache-Cache-Control", "max-age=600"), ("ETag", "\"t\""));
        using var miss = await Get(path);
        using var hit = await Get(path);
        using var otherEdge = await Get(path, edge: 1);
        using var notModified = await Get(path, m => m.Headers.IfNoneMatch.ParseAdd("\"t\""));
        using var head = await Send(HttpMethod.Head, path);

        Assert.Equal(1, cdn.Origin.Count(path));
        Assert.True(IsHit(hit));
        Assert.Contains("EdgeCache-Shield; hit", otherEdge.Header("Cache-Status"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        foreach (var r in new[] { miss, hit, otherEdge, notModified, head })
        {
            Assert.Equal("", r.Header("EdgeCache-Cache-Control"));
            Assert.Equal("no-store", r.Header("CDN-Cache-Control"));
        }

        // The shield passes it on to the edges, which it serves as its clients.
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(cdn.ShieldUri(0), path));
        request.Headers.Host = Topology.Site;
        using var fromShield0 = await cdn.Client.SendAsync(request);
        using var request1 = new HttpRequestMessage(HttpMethod.Get, new Uri(cdn.ShieldUri(1), path));
        request1.Headers.Host = Topology.Site;
        using var fromShield1 = await cdn.Client.SendAsync(request1);
        Assert.Equal("max-age=600", fromShield0.Header("EdgeCache-Cache-Control"));
        Assert.Equal("max-age=600", fromShield1.Header("EdgeCache-Cache-Control"));
    }

    [Fact]
    public async Task Rfc9213_2_EdgeCache_Cache_Control_is_removed_from_responses_the_edge_does_not_store()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("EdgeCache-Cache-Control", "no-store"), ("Cache-Control", "max-age=60"));
        using var first = await Get(path);
        using var second = await Get(path);
        Assert.Equal(2, cdn.Origin.Count(path));
        Assert.Equal("", first.Header("EdgeCache-Cache-Control"));
        Assert.Equal("", second.Header("EdgeCache-Cache-Control"));
        Assert.Equal("max-age=60", second.Header("Cache-Control"));
    }

    [Fact]
    public async Task Rfc9211_each_tier_appends_its_Cache_Status_entry_with_the_edge_last()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=60"));
        using var r = await Get(path);
        var members = r.Headers.GetValues("Cache-Status").SelectMany(v => v.Split(", ")).ToList();
        Assert.Equal(2, members.Count);
        Assert.StartsWith("EdgeCache-Shield; fwd=uri-miss; fwd-status=200; stored", members[0], StringComparison.Ordinal);
        Assert.StartsWith("EdgeCache-Edge; fwd=uri-miss; fwd-status=200; stored", members[1], StringComparison.Ordinal);
        Assert.Equal("0", r.Header("Age"));
    }

    [Fact]
    public async Task Unkeyed_override_headers_never_reach_the_origin_so_they_cannot_poison_a_key()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=60";
            return ctx.Response.WriteAsync("links to https://" + (ctx.Request.Headers["X-Forwarded-Host"].FirstOrDefault() ?? ctx.Request.Host.Value) + "/");
        });

        using var attack = await Get(path, m =>
        {
            m.Headers.TryAddWithoutValidation("X-Forwarded-Host", "evil.example.net");
            m.Headers.TryAddWithoutValidation("X-Original-URL", "/admin");
            m.Headers.TryAddWithoutValidation("X-HTTP-Method-Override", "DELETE");
        });
        using var victim = await Get(path, edge: 1);

        Assert.Equal("links to https://www.example.com/", await victim.BodyAsync());
        var seen = cdn.Origin.Requests(path)[0].Headers;
        Assert.Equal(Topology.Site, seen["X-Forwarded-Host"]);
        Assert.False(seen.ContainsKey("X-Original-URL"));
        Assert.False(seen.ContainsKey("X-HTTP-Method-Override"));
    }

    [Theory]
    [InlineData(400)]
    [InlineData(403)]
    [InlineData(500)]
    [InlineData(503)]
    public async Task An_error_response_is_not_stored_even_with_explicit_freshness(int status)
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.StatusCode = status;
            ctx.Response.Headers.CacheControl = "public, max-age=600";
            return ctx.Response.WriteAsync("error");
        });
        (await Get(path)).Dispose();
        using var r = await Get(path);
        Assert.Equal(status, (int)r.StatusCode);
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Theory]
    [InlineData(400)]
    [InlineData(500)]
    [InlineData(503)]
    public async Task StoreErrorStatuses_stores_an_error_with_explicit_freshness_for_at_most_ErrorStatusMaxAge(int status)
    {
        var path = NewPath();
        var noFreshness = NewPath();
        foreach (var (p, cc) in new[] { (path, "max-age=600"), (noFreshness, "public") })
        {
            cdn.Origin.Map(p, ctx =>
            {
                ctx.Response.StatusCode = status;
                ctx.Response.Headers.CacheControl = cc;
                return ctx.Response.WriteAsync("error");
            });
        }

        async Task<HttpResponseMessage> Errors(string p) => await cdn.GetAsync(0, p, host: Topology.ErrorsSite);
        (await Errors(path)).Dispose();
        using var hit = await Errors(path);
        Assert.Equal(status, (int)hit.StatusCode);
        Assert.Equal("error", await hit.BodyAsync());
        Assert.True(IsHit(hit), hit.EdgeStatus());
        Assert.Equal(1, cdn.Origin.Count(path));

        cdn.Clock.Advance(TimeSpan.FromSeconds(11)); // past the 10 s default cap, well within max-age=600
        using var capped = await Errors(path);
        Assert.False(IsHit(capped));
        Assert.Equal(2, cdn.Origin.Count(path));

        (await Errors(noFreshness)).Dispose();
        (await Errors(noFreshness)).Dispose();
        Assert.Equal(2, cdn.Origin.Count(noFreshness));
    }

    [Fact]
    public async Task A_404_with_explicit_freshness_is_stored()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.StatusCode = 404;
            ctx.Response.Headers.CacheControl = "max-age=600";
            return ctx.Response.WriteAsync("not here");
        });
        (await Get(path)).Dispose();
        using var r = await Get(path);
        Assert.True(IsHit(r));
        Assert.Equal(1, cdn.Origin.Count(path));
    }
}
