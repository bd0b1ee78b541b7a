using System.Net;
using System.Net.Http.Headers;
using EdgeCache.FunctionalTests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// Stored partial responses through the whole chain (client → edge → shield → origin), as RFC 9111
/// §3.3 and §3.4 and RFC 9110 §14, §13.1.5 and §15.3.7 say. The origins here answer a request without
/// Range with a 206, as the conformance suites' test origins do (and as a transfer cut short would
/// leave a partial behind). Assertions are on what the client and the origin see.
/// </summary>
[Collection(CdnFixtureGroup.Name)]
public sealed class PartialContentTests(Topology cdn)
{
    private const string Body = "0123456789abcdefghij";

    private static string NewPath() => "/partial/" + Guid.NewGuid().ToString("N");

    private Task<HttpResponseMessage> Get(string path, long? from = null, long? to = null, Action<HttpRequestMessage>? configure = null, HttpMethod? method = null) =>
        cdn.GetAsync(0, path, method: method, configure: m =>
        {
            if (from is not null || to is not null) m.Headers.Range = new RangeHeaderValue(from, to);
            configure?.Invoke(m);
        });

    private static bool IsHit(HttpResponseMessage r) => r.EdgeStatus().StartsWith("EdgeCache-Edge; hit", StringComparison.Ordinal);

    /// <summary>Always answers 206 with bytes <paramref name="first"/>..<paramref name="last"/> of
    /// <see cref="Body"/>, whatever the request asked for.</summary>
    private void MapFixedPart(string path, int first, int last, string? etag, string cacheControl = "max-age=60", string? contentType = null, string? contentRange = null, long? contentLength = null) =>
        cdn.Origin.Map(path, ctx =>
        {
            var r = ctx.Response;
            r.StatusCode = StatusCodes.Status206PartialContent;
            r.Headers.CacheControl = cacheControl;
            r.Headers["X-Part"] = "stored";
            if (etag is not null) r.Headers.ETag = etag;
            if (contentType is not null) r.ContentType = contentType;
            r.Headers.ContentRange = contentRange ?? $"bytes {first}-{last}/{Body.Length}";
            r.ContentLength = contentLength;
            return r.WriteAsync(Body.Substring(first, last - first + 1));
        });

    /// <summary>
    /// Answers a request without Range with a 206 of bytes <paramref name="first"/>..<paramref name="last"/>, and a
    /// Range request as RFC 9110 §14.2 and §13.1.5 say: the range when If-Range (if any) matches the
    /// current entity-tag, else the whole representation as a 200. <paramref name="current"/> gives the
    /// entity-tag and body of each request.
    /// </summary>
    private void MapRanged(string path, int first, int last, Func<(string ETag, string Body)> current) =>
        cdn.Origin.Map(path, ctx =>
        {
            var (etag, body) = current();
            var r = ctx.Response;
            r.Headers.CacheControl = "max-age=60";
            r.Headers.ETag = etag;
            var range = ctx.Request.Headers.Range.ToString();
            var ifRange = ctx.Request.Headers.IfRange.ToString();
            int from = first, to = last;
            if (range.Length == 0)
            {
            }
            else if (ifRange.Length > 0 && ifRange != etag)
            {
                return r.WriteAsync(body);
            }
            else
            {
                var spec = range["bytes=".Length..].Split('-');
                (from, to) = spec[0].Length == 0
                    ? (body.Length - int.Parse(spec[1], System.Globalization.CultureInfo.InvariantCulture), body.Length - 1)
                    : (int.Parse(spec[0], System.Globalization.CultureInfo.InvariantCulture), spec[1].Length == 0 ? body.Length - 1 : Math.Min(body.Length - 1, int.Parse(spec[1], System.Globalization.CultureInfo.InvariantCulture)));
            }

            r.StatusCode = StatusCodes.Status206PartialContent;
            r.Headers.ContentRange = $"bytes {from}-{to}/{body.Length}";
            return r.WriteAsync(body.Substring(from, to - from + 1));
        });

    [Fact]
    public async Task Rfc9111_3_3_a_stored_206_answers_later_requests_for_ranges_inside_it_without_the_origin()
    {
        var path = NewPath();
        MapFixedPart(path, 0, 9, "\"p1\"");
        using (var first = await Get(path, 0, 9))
        {
            Assert.Equal(HttpStatusCode.PartialContent, first.StatusCode);
            Assert.Equal("0123456789", await first.BodyAsync());
            Assert.Equal("bytes 0-9/20", first.Header("Content-Range"));
        }

        using var same = await Get(path, 0, 9);
        Assert.Equal(HttpStatusCode.PartialContent, same.StatusCode);
        Assert.True(IsHit(same), same.Header("Cache-Status"));
        Assert.Equal("0123456789", await same.BodyAsync());
        Assert.Equal("bytes 0-9/20", same.Header("Content-Range"));

        // RFC 9111 §3.4, §4.3.4: the fields of a reused partial are the stored 206's.
        using var inside = await Get(path, 2, 5);
        Assert.Equal(HttpStatusCode.PartialContent, inside.StatusCode);
        Assert.True(IsHit(inside));
        Assert.Equal("2345", await inside.BodyAsync());
        Assert.Equal("bytes 2-5/20", inside.Header("Content-Range"));
        Assert.Equal("4", inside.Header("Content-Length"));
        Assert.Equal("stored", inside.Header("X-Part"));
        Assert.Equal("\"p1\"", inside.Header("ETag"));
        Assert.NotEqual("", inside.Header("Age"));

        using var ifRange = await Get(path, 0, 3, m => m.Headers.IfRange = new RangeConditionHeaderValue("\"p1\""));
        Assert.True(IsHit(ifRange));
        Assert.Equal("0123", await ifRange.BodyAsync());
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_3_3_a_stored_partial_is_never_served_for_the_complete_response_nor_as_a_200_nor_for_HEAD()
    {
        var path = NewPath();
        MapFixedPart(path, 0, 9, etag: null);
        (await Get(path, 0, 9)).Dispose();
        using (var stored = await Get(path, 0, 9))
        {
            Assert.True(IsHit(stored));
        }

        var fastHits = cdn.EdgeEngine(0).FastHits;
        using var whole = await Get(path);
        Assert.False(IsHit(whole));
        Assert.Equal(fastHits, cdn.EdgeEngine(0).FastHits);
        Assert.Equal(HttpStatusCode.PartialContent, whole.StatusCode); // what the origin sent: never made a 200
        Assert.Equal("bytes 0-9/20", whole.Header("Content-Range"));
        Assert.Equal(2, cdn.Origin.Count(path));

        using var head = await Get(path, method: HttpMethod.Head);
        Assert.False(IsHit(head));
        Assert.NotEqual(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(3, cdn.Origin.Count(path));

        using var outside = await Get(path, 5, 14);
        Assert.False(IsHit(outside));
        Assert.Equal(4, cdn.Origin.Count(path));

        using var conditional = await Get(path, 0, 3, m => m.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"x\"")));
        Assert.False(IsHit(conditional));
        Assert.Equal(5, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_3_4_a_partial_is_completed_with_a_range_request_for_the_rest_and_then_served_whole()
    {
        var path = NewPath();
        MapRanged(path, 0, 9, () => ("\"c1\"", Body));
        (await Get(path, 0, 4)).Dispose();
        Assert.Equal(1, cdn.Origin.Count(path));

        using var whole = await Get(path);
        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        Assert.Equal(Body, await whole.BodyAsync());
        Assert.Equal("20", whole.Header("Content-Length"));
        Assert.Equal("", whole.Header("Content-Range"));
        Assert.Contains("fwd=partial", whole.EdgeStatus(), StringComparison.Ordinal);
        var completion = cdn.Origin.Requests(path)[1];
        Assert.Equal("bytes=10-", completion.Headers["Range"]);
        Assert.Equal("\"c1\"", completion.Headers["If-Range"]);
        Assert.Equal(2, cdn.Origin.Count(path));

        // Combined into a complete 200 (RFC 9110 §15.3.7.3), it answers everything without the origin.
        using var again = await Get(path);
        Assert.True(IsHit(again));
        Assert.Equal(Body, await again.BodyAsync());
        using var tail = await Get(path, 15, 19);
        Assert.True(IsHit(tail));
        Assert.Equal("fghij", await tail.BodyAsync());
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_3_4_a_suffix_is_completed_with_a_range_request_for_the_bytes_before_it()
    {
        var path = NewPath();
        MapRanged(path, 10, 19, () => ("\"s1\"", Body));
        using (var tail = await Get(path, null, 5))
        {
            Assert.Equal(HttpStatusCode.PartialContent, tail.StatusCode);
            Assert.Equal("bytes 15-19/20", tail.Header("Content-Range"));
            Assert.Equal("fghij", await tail.BodyAsync());
        }

        using var head = await Get(path, 0, 3);
        Assert.Equal(HttpStatusCode.PartialContent, head.StatusCode);
        Assert.Equal("bytes 0-3/20", head.Header("Content-Range"));
        Assert.Equal("0123", await head.BodyAsync());
        Assert.Equal("bytes=0-9", cdn.Origin.Requests(path)[1].Headers["Range"]);
        using var whole = await Get(path);
        Assert.True(IsHit(whole));
        Assert.Equal(Body, await whole.BodyAsync());
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_3_4_a_partial_with_a_strong_Last_Modified_and_no_entity_tag_is_completed_with_If_Range_of_that_date()
    {
        var path = NewPath();
        var lastModified = Microsoft.Net.Http.Headers.HeaderUtilities.FormatDate(cdn.Origin.Now.AddDays(-3));
        cdn.Origin.Map(path, ctx =>
        {
            var r = ctx.Response;
            r.Headers.CacheControl = "max-age=60";
            r.Headers.LastModified = lastModified;
            r.StatusCode = StatusCodes.Status206PartialContent;
            if (ctx.Request.Headers.Range.ToString() == "bytes=10-" && ctx.Request.Headers.IfRange.ToString() == lastModified)
            {
                r.Headers.ContentRange = "bytes 10-19/20";
                return r.WriteAsync(Body[10..]);
            }

            r.Headers.ContentRange = "bytes 0-9/20";
            return r.WriteAsync(Body[..10]);
        });
        (await Get(path, 0, 9)).Dispose();
        using var whole = await Get(path);
        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        Assert.Equal(Body, await whole.BodyAsync());
        Assert.Equal(lastModified, cdn.Origin.Requests(path)[1].Headers["If-Range"]);
        using var again = await Get(path);
        Assert.True(IsHit(again));
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_4_1_a_partial_answers_only_the_variant_it_was_stored_for()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            var r = ctx.Response;
            r.StatusCode = StatusCodes.Status206PartialContent;
            r.Headers.CacheControl = "max-age=60";
            r.Headers.Vary = "Accept-Language";
            r.Headers.ContentRange = "bytes 0-9/20";
            return r.WriteAsync(ctx.Request.Headers.AcceptLanguage.ToString() == "fr" ? "ABCDEFGHIJ" : "0123456789");
        });
        (await Get(path, 0, 9, m => m.Headers.AcceptLanguage.ParseAdd("en"))).Dispose();
        using var en = await Get(path, 0, 4, m => m.Headers.AcceptLanguage.ParseAdd("en"));
        Assert.True(IsHit(en));
        Assert.Equal("01234", await en.BodyAsync());
        using var fr = await Get(path, 0, 4, m => m.Headers.AcceptLanguage.ParseAdd("fr"));
        Assert.False(IsHit(fr));
        Assert.Equal("ABCDE", await fr.BodyAsync());
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_4_4_an_unsafe_request_invalidates_a_stored_partial()
    {
        var path = NewPath();
        MapFixedPart(path, 0, 9, "\"u\"");
        (await Get(path, 0, 9)).Dispose();
        using (var hit = await Get(path, 0, 9))
        {
            Assert.True(IsHit(hit));
        }

        (await Get(path, method: HttpMethod.Post)).Dispose();
        using var after = await Get(path, 0, 9);
        Assert.False(IsHit(after));
        Assert.Equal(3, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9110_15_5_17_a_416_to_the_cache_s_own_completion_range_is_never_the_client_s_answer()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            var r = ctx.Response;
            r.Headers.CacheControl = "max-age=60";
            r.Headers.ETag = "\"t\"";
            if (ctx.Request.Headers.Range.Count > 0)
            {
                r.StatusCode = StatusCodes.Status416RangeNotSatisfiable;
                r.Headers.ContentRange = "bytes */10";
                return Task.CompletedTask;
            }

            r.StatusCode = StatusCodes.Status206PartialContent;
            r.Headers.ContentRange = "bytes 0-9/20";
            return r.WriteAsync("0123456789");
        });
        (await Get(path, 0, 9)).Dispose();
        using var whole = await Get(path);
        Assert.NotEqual(HttpStatusCode.RequestedRangeNotSatisfiable, whole.StatusCode);
        Assert.Equal("0123456789", await whole.BodyAsync());
        Assert.False(cdn.Origin.Requests(path)[^1].Headers.ContainsKey("Range"));
    }

    [Fact]
    public async Task Rfc9110_13_1_5_a_changed_representation_answers_the_completion_with_a_200_that_replaces_the_partial()
    {
        var path = NewPath();
        var version = ("\"v1\"", Body);
        MapRanged(path, 0, 9, () => version);
        (await Get(path, 0, 4)).Dispose();
        version = ("\"v2\"", "ABCDEFGHIJKLMNOPQRST");

        using var whole = await Get(path, 12, 15);
        Assert.Equal(HttpStatusCode.PartialContent, whole.StatusCode);
        Assert.Equal("MNOP", await whole.BodyAsync());
        Assert.Equal("\"v2\"", whole.Header("ETag"));

        // The new 200 replaced the old partial: its bytes are never mixed with the new ones.
        using var start = await Get(path, 0, 4);
        Assert.True(IsHit(start));
        Assert.Equal("ABCDE", await start.BodyAsync());
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Theory]
    [InlineData("multipart/byteranges; boundary=THIS", null)]
    [InlineData(null, "bytes 0-9/*")]
    [InlineData(null, "bytes 0-10/20")]
    public async Task Rfc9111_3_3_a_206_the_cache_cannot_read_as_one_range_of_a_known_length_is_not_stored(string? contentType, string? contentRange)
    {
        var path = NewPath();
        MapFixedPart(path, 0, 9, "\"m\"", contentType: contentType, contentRange: contentRange, contentLength: 10);
        (await Get(path, 0, 9)).Dispose();
        using var second = await Get(path, 0, 9);
        Assert.False(IsHit(second));
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_3_3_a_partial_never_replaces_a_stored_complete_response()
    {
        var path = NewPath();
        var n = 0;
        cdn.Origin.Map(path, ctx =>
        {
            var r = ctx.Response;
            r.Headers.CacheControl = "no-cache";
            r.Headers.ETag = "\"g\"";
            switch (Interlocked.Increment(ref n))
            {
                case 2:
                    r.StatusCode = StatusCodes.Status206PartialContent;
                    r.Headers.ContentRange = "bytes 0-4/20";
                    return r.WriteAsync("01234");
                case > 2 when ctx.Request.Headers.IfNoneMatch == "\"g\"":
                    r.StatusCode = StatusCodes.Status304NotModified;
                    return Task.CompletedTask;
                default:
                    return r.WriteAsync(Body);
            }
        });

        (await Get(path)).Dispose();
        using (var partial = await Get(path))
        {
            Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
            Assert.Equal("01234", await partial.BodyAsync());
        }

        // Still the complete copy: revalidated with its own validator, freshened by a 304, served whole.
        using var whole = await Get(path);
        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        Assert.Equal(Body, await whole.BodyAsync());
        Assert.Equal("\"g\"", cdn.Origin.Requests(path)[2].Headers["If-None-Match"]);
        Assert.Equal(3, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Rfc9111_4_2_a_stale_partial_is_not_served()
    {
        var path = NewPath();
        MapFixedPart(path, 0, 9, "\"s\"", cacheControl: "max-age=10");
        (await Get(path, 0, 9)).Dispose();
        cdn.Clock.Advance(TimeSpan.FromSeconds(11));
        using var stale = await Get(path, 0, 9);
        Assert.False(IsHit(stale));
        Assert.Equal("0123456789", await stale.BodyAsync());
        Assert.Equal(2, cdn.Origin.Count(path));
    }
}
