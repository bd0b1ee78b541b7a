using System.IO.Compression;
using System.Net;
using EdgeCache.FunctionalTests.Infrastructure;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// The background re-encode of hot representations (issue 18): through a real edge (which makes the encodings
/// for <see cref="Topology.RecompressSite"/>), a shield and an origin. Every body is decoded with a real
/// decoder and compared byte for byte with the origin's; the origin's request counts show no fetch is added.
/// </summary>
[Collection(CdnFixtureGroup.Name)]
public sealed class RecompressionTests(Topology cdn)
{
    internal const string Host = Topology.RecompressSite;

    /// <summary>Hits after which a representation is made again (<c>Compression:RecompressAfterHits</c> in the fixture).</summary>
    internal const int AfterHits = 3;

    private static string NewPath() => "/recompress/" + Guid.NewGuid().ToString("N");

    internal static void MapText(TestOrigin origin, string path, Func<byte[]> body, Func<string> etag) =>
        origin.Map(path, async ctx =>
        {
            var bytes = body();
            ctx.Response.Headers.CacheControl = "max-age=600";
            ctx.Response.ContentType = "text/html; charset=utf-8";
            ctx.Response.Headers.ETag = etag();
            ctx.Response.ContentLength = bytes.Length;
            await ctx.Response.Body.WriteAsync(bytes);
        });

    internal static Task<HttpResponseMessage> Get(Topology cdn, string path, string acceptEncoding, string? ifNoneMatch = null, string host = Host) =>
        cdn.GetAsync(0, path, host, m =>
        {
            m.Headers.AcceptEncoding.Clear();
            m.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
            if (ifNoneMatch is not null) m.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        });

    internal static long Recompressions(Topology cdn, string coding, string outcome) =>
        cdn.Edges[0].Metric("edgecache.compression.recompressions", ("edgecache.encoding", coding), ("edgecache.outcome", outcome));

    /// <summary>What the coding's best offline level makes of <paramref name="text"/> (<c>brotli -q 11</c>, <c>zstd -19</c>, <c>gzip -9</c>).</summary>
    private static int Offline(string coding, byte[] text)
    {
        switch (coding)
        {
            case "br":
                var buffer = new byte[BrotliEncoder.GetMaxCompressedLength(text.Length)];
                Assert.True(BrotliEncoder.TryCompress(text, buffer, out var written, quality: 11, window: 24));
                return written;
            case "zstd":
                using (var zstd = new ZstdSharp.Compressor(19)) return zstd.Wrap(text).Length;
            default:
                using (var output = new MemoryStream())
                {
                    using (var gzip = new GZipStream(output, new ZLibCompressionOptions { CompressionLevel = 9 }, leaveOpen: true)) gzip.Write(text);
                    return (int)output.Length;
                }
        }
    }

    [Theory]
    [InlineData("br")]
    [InlineData("zstd")]
    [InlineData("gzip")]
    public async Task A_hot_representation_is_made_again_smaller_with_its_own_entity_tag_and_no_origin_fetch(string coding)
    {
        var path = NewPath();
        var text = CompressionTests.Text(100 * 1024);
        MapText(cdn.Origin, path, () => text, () => "\"v1\"");
        var replaced = Recompressions(cdn, coding, "replaced");
        var notSmaller = Recompressions(cdn, coding, "not-smaller");

        using var first = await Get(cdn, path, coding);
        var fast = await first.Content.ReadAsByteArrayAsync();
        Assert.Equal(coding, string.Join(",", first.Content.Headers.ContentEncoding));
        Assert.Equal($"\"v1-{coding}\"", first.Headers.ETag?.ToString());
        Assert.Equal(text, CompressionTests.Decode(coding, fast));

        // The hits before the threshold are the fast copy; the one that reaches it queues the re-encode.
        for (var i = 0; i < AfterHits; i++)
        {
            using var hit = await Get(cdn, path, coding);
            Assert.StartsWith("EdgeCache-Edge; hit", hit.EdgeStatus(), StringComparison.Ordinal);
            Assert.Equal(fast, await hit.Content.ReadAsByteArrayAsync());
        }

        await Topology.WaitUntilAsync(
            () => Recompressions(cdn, coding, "replaced") > replaced || Recompressions(cdn, coding, "not-smaller") > notSmaller,
            TimeSpan.FromSeconds(30),
            "the re-encode ends: " + string.Join(", ", new[] { "replaced", "superseded", "not-smaller", "failed", "dropped" }.Select(o => o + " " + Recompressions(cdn, coding, o))));
        var offline = Offline(coding, text);
        if (Recompressions(cdn, coding, "replaced") == replaced)
        {
            // The high level made no fewer bytes (gzip 9 against 6, on text this regular): the fast copy stays, and already meets the target.
            Assert.Equal("gzip", coding);
            using var kept = await Get(cdn, path, coding);
            Assert.Equal($"\"v1-{coding}\"", kept.Headers.ETag?.ToString());
            Assert.Equal(fast, await kept.Content.ReadAsByteArrayAsync());
            Assert.True(fast.Length <= offline * 1.10, $"{coding}: {fast.Length} bytes served, {offline} offline");
            return;
        }

        using var remade = await Get(cdn, path, coding);
        var high = await remade.Content.ReadAsByteArrayAsync();
        Assert.StartsWith("EdgeCache-Edge; hit", remade.EdgeStatus(), StringComparison.Ordinal);
        Assert.Equal(coding, string.Join(",", remade.Content.Headers.ContentEncoding));
        var etag = remade.Headers.ETag?.ToString();
        Assert.NotEqual($"\"v1-{coding}\"", etag);
        Assert.StartsWith($"\"v1-{coding}", etag, StringComparison.Ordinal);
        Assert.Equal(high.Length, remade.Content.Headers.ContentLength);
        Assert.Equal(text, CompressionTests.Decode(coding, high));
        Assert.True(high.Length < fast.Length, $"{coding}: {high.Length} bytes re-encoded, {fast.Length} fast");

        // The bytes target: within 10% of the coding's best offline level.
        Assert.True(high.Length <= offline * 1.10, $"{coding}: {high.Length} bytes served, {offline} offline");

        // A client holding the fast copy gets the new one in full (other bytes: another tag); one holding the new one, a 304.
        using (var old = await Get(cdn, path, coding, $"\"v1-{coding}\""))
        {
            Assert.Equal(HttpStatusCode.OK, old.StatusCode);
            Assert.Equal(high, await old.Content.ReadAsByteArrayAsync());
        }

        using (var current = await Get(cdn, path, coding, etag))
        {
            Assert.Equal(HttpStatusCode.NotModified, current.StatusCode);
        }

        // The original and the other representations are untouched, and the origin was asked once.
        using (var identity = await Get(cdn, path, "identity"))
        {
            Assert.Equal(text, await identity.Content.ReadAsByteArrayAsync());
            Assert.Equal("\"v1\"", identity.Headers.ETag?.ToString());
        }

        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Theory]
    [InlineData("br", 11)]
    [InlineData("zstd", 19)]
    public async Task A_copy_the_shield_made_fast_is_made_again_by_the_edge_once_hot_at_the_edge(string coding, int high)
    {
        // The default placement: shields make the encodings, so the shield sees one request and the edge every hit.
        const string host = Topology.CompressSite;
        const int afterHits = 4; // Compression:RecompressAfterHits's default; the fixture leaves it for this host
        var path = NewPath();
        var text = CompressionTests.Text(100 * 1024);
        MapText(cdn.Origin, path, () => text, () => "\"v1\"");
        var replaced = Recompressions(cdn, coding, "replaced");
        long AtShields() => cdn.Shields.Sum(s => s.Metric("edgecache.compression.recompressions", ("edgecache.encoding", coding), ("edgecache.outcome", "replaced")));
        var shieldReplaced = AtShields();

        using var first = await Get(cdn, path, coding, host: host);
        var fast = await first.Content.ReadAsByteArrayAsync();
        Assert.Equal(coding, string.Join(",", first.Content.Headers.ContentEncoding));
        Assert.Equal($"\"v1-{coding}\"", first.Headers.ETag?.ToString());
        Assert.False(first.Headers.Contains("EdgeCache-Encoded"), "the tiers' field reaches no client");
        Assert.Equal(text, CompressionTests.Decode(coding, fast));

        for (var i = 0; i < afterHits; i++)
        {
            using var hit = await Get(cdn, path, coding, host: host);
            Assert.StartsWith("EdgeCache-Edge; hit", hit.EdgeStatus(), StringComparison.Ordinal);
            Assert.Equal(fast, await hit.Content.ReadAsByteArrayAsync());
        }

        await Topology.WaitUntilAsync(
            () => Recompressions(cdn, coding, "replaced") > replaced,
            TimeSpan.FromSeconds(30),
            "the edge re-encodes the shield's copy: " + string.Join(", ", new[] { "replaced", "superseded", "not-smaller", "failed", "dropped" }.Select(o => o + " " + Recompressions(cdn, coding, o))));

        using var remade = await Get(cdn, path, coding, host: host);
        var body = await remade.Content.ReadAsByteArrayAsync();
        Assert.StartsWith("EdgeCache-Edge; hit", remade.EdgeStatus(), StringComparison.Ordinal);
        Assert.Equal(coding, string.Join(",", remade.Content.Headers.ContentEncoding));

        // The entity-tag the shield gives the same coding at the same level, so the tiers agree on it.
        Assert.Equal($"\"v1-{coding}{high}\"", remade.Headers.ETag?.ToString());
        Assert.False(remade.Headers.Contains("EdgeCache-Encoded"), "the tiers' field reaches no client");
        Assert.Equal(body.Length, remade.Content.Headers.ContentLength);
        Assert.True(body.Length < fast.Length, $"{coding}: {body.Length} bytes re-encoded, {fast.Length} fast");
        Assert.Equal(text, CompressionTests.Decode(coding, body));

        using (var current = await Get(cdn, path, coding, $"\"v1-{coding}{high}\"", host))
        {
            Assert.Equal(HttpStatusCode.NotModified, current.StatusCode);
        }

        // The edge did it, from its own copy: the shield made nothing again and the origin was asked once.
        Assert.Equal(shieldReplaced, AtShields());
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task An_origins_own_coding_is_never_re_encoded_even_when_the_origin_claims_EdgeCache_made_it()
    {
        // An origin's gzip with an entity-tag like a derived one (as Apache's mod_deflate makes them) and a forged claim.
        const string host = Topology.CompressSite;
        var path = NewPath();
        var text = CompressionTests.Text(30 * 1024);
        byte[] gz;
        using (var buffer = new MemoryStream())
        {
            using (var z = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true)) z.Write(text);
            gz = buffer.ToArray();
        }

        cdn.Origin.Map(path, async ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            ctx.Response.ContentType = "text/html; charset=utf-8";
            ctx.Response.Headers.ContentEncoding = "gzip";
            ctx.Response.Headers.ETag = "\"v1-gzip\"";
            ctx.Response.Headers["EdgeCache-Encoded"] = "gzip; level=1";
            await ctx.Response.Body.WriteAsync(gz);
        });
        var outcomes = new[] { "replaced", "superseded", "not-smaller", "failed", "dropped" };
        var before = outcomes.Sum(o => Recompressions(cdn, "gzip", o));

        // The shield drops the origin's claim, so its edges never see one.
        for (var s = 0; s < cdn.Shields.Count; s++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(cdn.ShieldUri(s), path));
            request.Headers.Host = host;
            request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip");
            using var direct = await cdn.Client.SendAsync(request);
            Assert.Equal(gz, await direct.Content.ReadAsByteArrayAsync());
            Assert.False(direct.Headers.Contains("EdgeCache-Encoded"), "the shield kept the origin's claim");
        }

        for (var i = 0; i < 8; i++)
        {
            using var r = await Get(cdn, path, "gzip", host: host);
            Assert.Equal(gz, await r.Content.ReadAsByteArrayAsync());
            Assert.Equal("\"v1-gzip\"", r.Headers.ETag?.ToString());
        }

        // Nothing was queued for it (a queued or running re-encode is pending until it ends, and then counted).
        Assert.Equal(0, cdn.EdgeEngine(0).Recompressions.Pending);
        Assert.Equal(before, outcomes.Sum(o => Recompressions(cdn, "gzip", o)));
        using (var last = await Get(cdn, path, "gzip", host: host))
        {
            Assert.Equal(gz, await last.Content.ReadAsByteArrayAsync());
            Assert.Equal("\"v1-gzip\"", last.Headers.ETag?.ToString());
        }
    }

    [Fact]
    public async Task A_full_queue_drops_the_job_and_serving_goes_on_and_the_copy_asks_again_later()
    {
        // The edges queue one re-encode: the first object's runs, the second waits, the others are dropped.
        var paths = Enumerable.Range(0, 4).Select(_ => NewPath()).ToArray();
        var text = CompressionTests.Text(256 * 1024);
        foreach (var p in paths) MapText(cdn.Origin, p, () => text, () => "\"v1\"");
        var dropped = Recompressions(cdn, "br", "dropped");
        var replaced = Recompressions(cdn, "br", "replaced");
        foreach (var p in paths)
        {
            using var r = await Get(cdn, p, "br");
            Assert.Equal(text, CompressionTests.Decode("br", await r.Content.ReadAsByteArrayAsync()));
        }

        foreach (var p in paths)
        {
            for (var i = 0; i < AfterHits; i++)
            {
                using var r = await Get(cdn, p, "br");
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                Assert.StartsWith("EdgeCache-Edge; hit", r.EdgeStatus(), StringComparison.Ordinal);
                Assert.Equal(text, CompressionTests.Decode("br", await r.Content.ReadAsByteArrayAsync()));
            }
        }

        Assert.True(Recompressions(cdn, "br", "dropped") > dropped, "a job was dropped");

        // Dropped copies count their hits again: kept hot, every one is made again in the end.
        await Topology.WaitUntilAsync(
            async () =>
            {
                var all = true;
                foreach (var p in paths)
                {
                    using var r = await Get(cdn, p, "br");
                    Assert.Equal(text, CompressionTests.Decode("br", await r.Content.ReadAsByteArrayAsync()));
                    all &= r.Headers.ETag?.ToString() == "\"v1-br11\"";
                }

                return all;
            },
            "every hot object is re-encoded",
            TimeSpan.FromSeconds(60));
        Assert.True(Recompressions(cdn, "br", "replaced") >= replaced + paths.Length);
        foreach (var p in paths) Assert.Equal(1, cdn.Origin.Count(p));
    }
}

/// <summary>Purges and the background re-encode, with a real NATS stream and purge API: a purge while the
/// re-encode runs, or after it, leaves nothing stale, in memory or on disk.</summary>
[Collection(InvalidationFixtureGroup.Name)]
public sealed class RecompressionPurgeTests(InvalidationTopology cdn)
{
    [Fact]
    public async Task A_purge_while_a_hot_copy_is_re_encoded_wins_and_one_after_it_removes_the_new_copy()
    {
        var path = "/recompress/" + Guid.NewGuid().ToString("N");
        var version = 1;
        var v1 = CompressionTests.Text(1024 * 1024);
        var v2 = CompressionTests.Text(1024 * 1024 + 1);
        var v3 = CompressionTests.Text(1024 * 1024 + 2);
        RecompressionTests.MapText(cdn.Origin, path, () => version switch { 1 => v1, 2 => v2, _ => v3 }, () => $"\"v{version}\"");
        var superseded = RecompressionTests.Recompressions(cdn, "br", "superseded");
        var replaced = RecompressionTests.Recompressions(cdn, "br", "replaced");

        // Hot: the last hit queues a re-encode of 1 MiB at Brotli 11 (seconds), and the purge comes at once.
        for (var i = 0; i <= RecompressionTests.AfterHits; i++)
        {
            using var r = await RecompressionTests.Get(cdn, path, "br");
            Assert.Equal(v1, CompressionTests.Decode("br", await r.Content.ReadAsByteArrayAsync()));
        }

        version = 2;
        await cdn.PurgeAsync($"{{\"urls\":[\"http://{RecompressionTests.Host}{path}\"]}}");
        await Topology.WaitUntilAsync(() => RecompressionTests.Recompressions(cdn, "br", "superseded") > superseded, TimeSpan.FromSeconds(60), "the re-encode finds its copy purged");
        Assert.Equal(replaced, RecompressionTests.Recompressions(cdn, "br", "replaced"));
        await cdn.EdgeEngine(0).FlushDiskWritesAsync();

        using (var after = await RecompressionTests.Get(cdn, path, "br"))
        {
            Assert.Equal("\"v2-br\"", after.Headers.ETag?.ToString());
            Assert.Equal(v2, CompressionTests.Decode("br", await after.Content.ReadAsByteArrayAsync()));
        }

        Assert.Equal(2, cdn.Origin.Count(path));

        // Made hot again, re-encoded, then purged: the re-encoded copy goes too, from memory and disk.
        for (var i = 0; i < RecompressionTests.AfterHits; i++)
        {
            using var r = await RecompressionTests.Get(cdn, path, "br");
            Assert.Equal(v2, CompressionTests.Decode("br", await r.Content.ReadAsByteArrayAsync()));
        }

        await Topology.WaitUntilAsync(() => RecompressionTests.Recompressions(cdn, "br", "replaced") > replaced, TimeSpan.FromSeconds(60), "the re-encode replaces the fast copy");
        await cdn.EdgeEngine(0).FlushDiskWritesAsync();
        using (var remade = await RecompressionTests.Get(cdn, path, "br"))
        {
            Assert.Equal("\"v2-br11\"", remade.Headers.ETag?.ToString());
            Assert.Equal(v2, CompressionTests.Decode("br", await remade.Content.ReadAsByteArrayAsync()));
        }

        version = 3;
        await cdn.PurgeAsync($"{{\"urls\":[\"http://{RecompressionTests.Host}{path}\"]}}");
        using (var purged = await RecompressionTests.Get(cdn, path, "br"))
        {
            Assert.Equal("\"v3-br\"", purged.Headers.ETag?.ToString());
            Assert.Equal(v3, CompressionTests.Decode("br", await purged.Content.ReadAsByteArrayAsync()));
        }

        Assert.Equal(3, cdn.Origin.Count(path));
    }
}
