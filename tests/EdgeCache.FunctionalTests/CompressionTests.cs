using System.IO.Compression;
using System.Net;
using System.Text;
using EdgeCache.FunctionalTests.Infrastructure;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// Compression at the edge (issue 18) through real edges, shields and an origin: every encoded body is
/// decoded with a real decoder and compared byte for byte with what the origin sent, and the origin's
/// request counts show each object is fetched once and each encoding made once.
/// </summary>
[Collection(CdnFixtureGroup.Name)]
public sealed class CompressionTests(Topology cdn)
{
    private const string Host = Topology.CompressSite;

    private static string NewPath() => "/compress/" + Guid.NewGuid().ToString("N");

    /// <summary>Compressible text of about <paramref name="bytes"/> bytes (numbered lines, like markup).</summary>
    internal static byte[] Text(int bytes)
    {
        var sb = new StringBuilder(bytes + 100);
        for (var i = 0; sb.Length < bytes; i++) sb.Append("<li class=\"item\" data-n=\"").Append(i).Append("\">Item number ").Append(i * 7919 % 10007).Append("</li>\n");
        return Encoding.UTF8.GetBytes(sb.ToString(0, bytes));
    }

    private void MapText(string path, byte[] body, string contentType = "text/html; charset=utf-8", string cacheControl = "max-age=600", string? etag = "\"v1\"", string? vary = null) =>
        cdn.Origin.Map(path, async ctx =>
        {
            ctx.Response.Headers.CacheControl = cacheControl;
            ctx.Response.ContentType = contentType;
            if (etag is not null) ctx.Response.Headers.ETag = etag;
            if (vary is not null) ctx.Response.Headers.Vary = vary;
            ctx.Response.ContentLength = body.Length;
            await ctx.Response.Body.WriteAsync(body);
        });

    private Task<HttpResponseMessage> Get(int edge, string path, string? acceptEncoding, Action<HttpRequestMessage>? more = null, HttpMethod? method = null) =>
        cdn.GetAsync(edge, path, Host, m =>
        {
            m.Headers.AcceptEncoding.Clear();
            if (acceptEncoding is not null) m.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
            more?.Invoke(m);
        }, method);

    internal static byte[] Decode(string? coding, byte[] body)
    {
        if (string.IsNullOrEmpty(coding)) return body;
        using var input = new MemoryStream(body);
        using Stream decoder = coding switch
        {
            "br" => new BrotliStream(input, CompressionMode.Decompress),
            "gzip" => new GZipStream(input, CompressionMode.Decompress),
            "zstd" => new ZstdSharp.DecompressionStream(input),
            _ => throw new InvalidOperationException("unexpected coding " + coding),
        };
        using var output = new MemoryStream();
        decoder.CopyTo(output);
        return output.ToArray();
    }

    private static string Coding(HttpResponseMessage r) => string.Join(",", r.Content.Headers.ContentEncoding);

    private long ShieldEncoded() => cdn.Shields.Sum(s => s.Metric("edgecache.compression.objects"));

    [Fact]
    public async Task Each_coding_is_made_once_from_one_origin_fetch_and_decodes_to_the_origins_bytes()
    {
        var path = NewPath();
        var text = Text(100 * 1024);
        MapText(path, text);
        var encodedBefore = ShieldEncoded();

        foreach (var (accept, coding) in new[] { ("br, gzip", "br"), ("gzip", "gzip"), ("zstd", "zstd"), (null, ""), ("gzip, deflate, br, zstd", "br") })
        {
            foreach (var edge in new[] { 0, 1, 0 })
            {
                using var r = await Get(edge, path, accept);
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                Assert.Equal(coding, Coding(r));
                Assert.Contains("Accept-Encoding", r.Headers.Vary);
                var body = await r.Content.ReadAsByteArrayAsync();
                Assert.Equal(text, Decode(coding, body));
                if (coding != "") Assert.True(body.Length < text.Length / 3, $"{coding}: {body.Length} bytes of {text.Length}");
                Assert.Equal(coding == "" ? "\"v1\"" : $"\"v1-{coding}\"", r.Headers.ETag?.ToString());
            }
        }

        // One origin fetch; br, gzip and zstd made once each on the shield (identity is the original).
        Assert.Equal(1, cdn.Origin.Count(path));
        Assert.Equal(3, ShieldEncoded() - encodedBefore);

        // What the origin was asked for: one negotiated coding, never a client's header.
        Assert.Equal("br", cdn.Origin.Requests(path)[0].Headers["Accept-Encoding"]);

        // A stored hit says how long it is: Content-Length of the encoded body.
        using var hit = await Get(0, path, "br");
        Assert.StartsWith("EdgeCache-Edge; hit", hit.EdgeStatus(), StringComparison.Ordinal);
        var bytes = await hit.Content.ReadAsByteArrayAsync();
        Assert.Equal(bytes.Length, hit.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task Browsers_headers_for_one_coding_share_one_variant()
    {
        var path = NewPath();
        MapText(path, Text(8 * 1024));
        using (var first = await Get(0, path, "gzip, deflate, br")) Assert.Equal("br", Coding(first));
        foreach (var accept in new[] { "br", "br;q=1.0, gzip;q=0.8, *;q=0.1", "deflate, gzip, br", "BR, GZIP" })
        {
            using var r = await Get(0, path, accept);
            Assert.Equal("br", Coding(r));
            Assert.StartsWith("EdgeCache-Edge; hit", r.EdgeStatus(), StringComparison.Ordinal);
        }

        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task No_transform_and_bodies_outside_the_size_bounds_and_other_types_are_passed_as_they_are()
    {
        var noTransform = NewPath();
        var small = NewPath();
        var png = NewPath();
        var text = Text(20 * 1024);
        MapText(noTransform, text, cacheControl: "max-age=600, no-transform");
        MapText(small, Text(100));
        MapText(png, text, contentType: "image/png");
        foreach (var path in new[] { noTransform, small, png })
        {
            for (var i = 0; i < 2; i++)
            {
                using var r = await Get(0, path, "br, gzip");
                Assert.Equal("", Coding(r));
                Assert.DoesNotContain("Accept-Encoding", r.Headers.Vary);
                Assert.Equal("\"v1\"", r.Headers.ETag?.ToString());
            }

            // One copy answers every coding: no variant per coding for what is not encoded.
            using var other = await Get(0, path, "gzip");
            Assert.StartsWith("EdgeCache-Edge; hit", other.EdgeStatus(), StringComparison.Ordinal);
            Assert.Equal(1, cdn.Origin.Count(path));
        }
    }

    [Fact]
    public async Task An_origins_own_gzip_is_kept_for_clients_that_take_it_and_decoded_for_those_that_do_not()
    {
        var path = NewPath();
        var text = Text(30 * 1024);
        byte[] gz;
        using (var buffer = new MemoryStream())
        {
            using (var z = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true)) z.Write(text);
            gz = buffer.ToArray();
        }

        cdn.Origin.Map(path, async ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            ctx.Response.ContentType = "application/octet-stream";
            ctx.Response.Headers.ContentEncoding = "gzip";
            ctx.Response.Headers.Vary = "Accept-Encoding";
            ctx.Response.Headers.ETag = "\"gz\"";
            await ctx.Response.Body.WriteAsync(gz);
        });

        // A client whose coding is the origin's gets the origin's bytes exactly.
        using (var r = await Get(0, path, "gzip"))
        {
            Assert.Equal("gzip", Coding(r));
            Assert.Equal(gz, await r.Content.ReadAsByteArrayAsync());
            Assert.Equal("\"gz\"", r.Headers.ETag?.ToString());
        }

        // One that cannot read gzip (or negotiates another coding the type is not compressed in) gets it decoded.
        foreach (var accept in new[] { null, "identity", "br", "zstd;q=1, gzip;q=0" })
        {
            using var r = await Get(1, path, accept);
            Assert.Equal("", Coding(r));
            Assert.Equal(text, await r.Content.ReadAsByteArrayAsync());
        }

        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task A_client_whose_Accept_Encoding_rules_out_every_stored_coding_gets_identity_never_bytes_it_cannot_read()
    {
        var path = NewPath();
        var text = Text(16 * 1024);
        MapText(path, text);
        using (var br = await Get(0, path, "br")) Assert.Equal("br", Coding(br));
        using (var gz = await Get(0, path, "gzip")) Assert.Equal("gzip", Coding(gz));
        foreach (var accept in new[] { "compress, deflate;q=0.5, identity;q=0", "br;q=0, gzip;q=0, zstd;q=0", "*;q=0", "" })
        {
            using var r = await Get(0, path, accept);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("", Coding(r));
            Assert.Equal(text, await r.Content.ReadAsByteArrayAsync());
        }

        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task A_large_body_is_encoded_as_it_streams_and_ranges_are_over_the_encoded_bytes()
    {
        var path = NewPath();
        var text = Text(3 * 1024 * 1024);
        cdn.Origin.Map(path, async ctx =>
        {
            // No Content-Length, in pieces: the encoder works while the body arrives.
            ctx.Response.Headers.CacheControl = "max-age=600";
            ctx.Response.ContentType = "application/json";
            ctx.Response.Headers.ETag = "\"big\"";
            for (var i = 0; i < text.Length; i += 64 * 1024)
            {
                await ctx.Response.Body.WriteAsync(text.AsMemory(i, Math.Min(64 * 1024, text.Length - i)));
                await ctx.Response.Body.FlushAsync();
            }
        });

        byte[] whole;
        using (var r = await Get(0, path, "zstd, br"))
        {
            Assert.Equal("br", Coding(r));
            whole = await r.Content.ReadAsByteArrayAsync();
            Assert.Equal(text, Decode("br", whole));
        }

        foreach (var edge in new[] { 0, 1 })
        {
            using var range = await Get(edge, path, "br", m => m.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(100, 1099));
            Assert.Equal(HttpStatusCode.PartialContent, range.StatusCode);
            Assert.Equal("br", Coding(range));
            Assert.Equal($"bytes 100-1099/{whole.Length}", range.Content.Headers.ContentRange?.ToString());
            Assert.Equal(whole.AsSpan(100, 1000).ToArray(), await range.Content.ReadAsByteArrayAsync());
        }

        // If-Range with the br representation's tag is that representation's.
        using (var ifRange = await Get(0, path, "br", m =>
        {
            m.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(0, 9);
            m.Headers.TryAddWithoutValidation("If-Range", "\"big-br\"");
        }))
        {
            Assert.Equal(HttpStatusCode.PartialContent, ifRange.StatusCode);
        }

        using (var other = await Get(0, path, "br", m =>
        {
            m.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(0, 9);
            m.Headers.TryAddWithoutValidation("If-Range", "\"big\"");
        }))
        {
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }

        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task HEAD_agrees_with_GET_and_If_None_Match_works_per_encoding()
    {
        var path = NewPath();
        MapText(path, Text(40 * 1024));
        using var get = await Get(0, path, "gzip");
        var body = await get.Content.ReadAsByteArrayAsync();
        using var head = await Get(0, path, "gzip", method: HttpMethod.Head);
        Assert.Equal("gzip", Coding(head));
        Assert.Equal(body.Length, head.Content.Headers.ContentLength);
        Assert.Equal(get.Headers.ETag, head.Headers.ETag);
        Assert.Equal(get.Headers.Vary.ToArray(), head.Headers.Vary.ToArray());

        // The gzip tag matches the gzip representation only.
        using (var same = await Get(0, path, "gzip", m => m.Headers.TryAddWithoutValidation("If-None-Match", "\"v1-gzip\""))) Assert.Equal(HttpStatusCode.NotModified, same.StatusCode);
        using (var br = await Get(0, path, "br", m => m.Headers.TryAddWithoutValidation("If-None-Match", "\"v1-gzip\"")))
        {
            Assert.Equal(HttpStatusCode.OK, br.StatusCode);
            Assert.Equal("br", Coding(br));
        }

        using (var brTag = await Get(1, path, "br", m => m.Headers.TryAddWithoutValidation("If-None-Match", "\"v1-br\""))) Assert.Equal(HttpStatusCode.NotModified, brTag.StatusCode);
        using (var plain = await Get(0, path, null, m => m.Headers.TryAddWithoutValidation("If-None-Match", "\"v1\""))) Assert.Equal(HttpStatusCode.NotModified, plain.StatusCode);
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task The_fast_path_answers_each_coding_from_its_variant()
    {
        var path = NewPath();
        var text = Text(12 * 1024);
        MapText(path, text);
        using (var warm = await Get(0, path, "gzip, deflate, br")) Assert.Equal("br", Coding(warm));
        using (var warmGzip = await Get(0, path, "gzip")) Assert.Equal("gzip", Coding(warmGzip));
        var fastBefore = await cdn.Edges[0].FastHitsAsync();
        var raw = await RawHttp.ExchangeAsync(cdn.EdgeUri(0),
            $"GET {path} HTTP/1.1\r\nHost: {Host}\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n"
            + $"GET {path} HTTP/1.1\r\nHost: {Host}\r\nAccept-Encoding: gzip\r\n\r\n",
            [false, false]);
        Assert.Equal("br", raw[0].Header("Content-Encoding"));
        Assert.Equal(text, Decode("br", raw[0].Body));
        Assert.Equal("gzip", raw[1].Header("Content-Encoding"));
        Assert.Equal(text, Decode("gzip", raw[1].Body));
        Assert.Equal(fastBefore + 2, await cdn.Edges[0].FastHitsAsync());
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task An_invalidation_of_the_URL_removes_every_encoding()
    {
        var path = NewPath();
        var text = Text(10 * 1024);
        MapText(path, text);
        foreach (var accept in new[] { "br", "gzip", null })
        {
            using var r = await Get(0, path, accept);
        }

        // RFC 9111 §4.4: a successful unsafe request invalidates the URL at every tier it passes (all variants).
        using (var post = await cdn.GetAsync(0, path, Host, method: HttpMethod.Post)) Assert.True(post.IsSuccessStatusCode);
        foreach (var accept in new[] { "br", "gzip", null })
        {
            using var r = await Get(0, path, accept);
            Assert.DoesNotContain("EdgeCache-Edge; hit", r.EdgeStatus(), StringComparison.Ordinal);
            Assert.Equal(text, Decode(Coding(r), await r.Content.ReadAsByteArrayAsync()));
        }

        // The first request after it fetched the object again; the other codings were made from that copy.
        Assert.Equal(3, cdn.Origin.Count(path));
    }
}
