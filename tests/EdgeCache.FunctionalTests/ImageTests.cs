using System.Net;
using System.Text.Json;
using EdgeCache.FunctionalTests.Infrastructure;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// Image variants (issue 19) through real edges, shields and an origin serving real images: every variant is
/// decoded to check its format and size, the origin's request counts show one fetch of each original, and the
/// shields' metrics show each variant made once.
/// </summary>
[Collection(CdnFixtureGroup.Name)]
public sealed class ImageTests(Topology cdn)
{
    private const string Host = Topology.ImageSite;

    private static string NewDir() => "/photos/" + Guid.NewGuid().ToString("N");

    private void MapImage(string path, byte[] body, string contentType, string cacheControl = "max-age=600", string? etag = "\"v1\"", string? surrogateKey = null) =>
        cdn.Origin.Map(path, async ctx =>
        {
            ctx.Response.Headers.CacheControl = cacheControl;
            ctx.Response.ContentType = contentType;
            if (etag is not null) ctx.Response.Headers.ETag = etag;
            if (surrogateKey is not null) ctx.Response.Headers["Surrogate-Key"] = surrogateKey;
            ctx.Response.ContentLength = body.Length;
            await ctx.Response.Body.WriteAsync(body);
        });

    private Task<HttpResponseMessage> Get(int edge, string path, string? accept = null, Action<HttpRequestMessage>? more = null, HttpMethod? method = null) =>
        cdn.GetAsync(edge, path, Host, m =>
        {
            if (accept is not null) m.Headers.TryAddWithoutValidation("Accept", accept);
            more?.Invoke(m);
        }, method);

    private long Made() => cdn.Shields.Sum(s => s.Metric("edgecache.images.variants"));

    private long Refused() => cdn.Shields.Sum(s => s.Metric("edgecache.images.refused"));

    private static string Status(HttpResponseMessage r) => string.Join(" | ", r.Headers.GetValues("Cache-Status"));

    [Fact]
    public async Task A_variant_is_made_once_from_one_origin_fetch_and_is_the_size_and_format_asked_for()
    {
        var original = NewDir() + "/cat.jpg";
        MapImage(original, TestImages.Photo, "image/jpeg");
        var made = Made();
        var path = "/_img/width=400,format=webp" + original;
        foreach (var edge in new[] { 0, 1, 0, 1 })
        {
            using var r = await Get(edge, path);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("image/webp", r.Content.Headers.ContentType?.MediaType);
            var body = await r.Content.ReadAsByteArrayAsync();
            Assert.Equal(("webp", 400, 300, 1), TestImages.Decode(body));
            Assert.Equal(body.Length, r.Content.Headers.ContentLength);
            Assert.False(r.Headers.Contains("Vary"));
            Assert.False(r.Headers.Contains("Surrogate-Key"));
        }

        Assert.Equal(1, cdn.Origin.Count(original));
        Assert.Equal(0, cdn.Origin.Count(path));
        Assert.Equal(made + 1, Made());

        // The original itself is an object like any other: its shield (the one that made the variant) has it.
        using var plain = await Get(1, original);
        Assert.Equal(TestImages.Photo, await plain.Content.ReadAsByteArrayAsync());
        Assert.Equal(1, cdn.Origin.Count(original));
    }

    [Fact]
    public async Task Auto_chooses_by_accept_keys_by_the_choice_and_varies_on_accept_only_for_auto()
    {
        var original = NewDir() + "/dog.jpg";
        MapImage(original, TestImages.Photo, "image/jpeg");
        var made = Made();
        var auto = "/_img/width=320,format=auto" + original;
        var cases = new (string Accept, string Format)[]
        {
            ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "avif"),
            ("image/webp,*/*", "webp"),
            ("image/png,image/*;q=0.8,*/*;q=0.5", "jpeg"),
            ("image/avif,image/webp,*/*;q=0.8", "avif"),
            ("*/*", "jpeg"),
        };
        foreach (var (accept, format) in cases)
        {
            using var r = await Get(0, auto, accept);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("image/" + format, r.Content.Headers.ContentType?.MediaType);
            Assert.Equal((format, 320, 240, 1), TestImages.Decode(await r.Content.ReadAsByteArrayAsync()));
            Assert.Equal("Accept", string.Join(",", r.Headers.Vary));
        }

        // Three variants (avif, webp, the original's jpeg), however many forms of Accept asked: the later
        // forms of one choice were hits at the edge.
        Assert.Equal(made + 3, Made());
        using (var again = await Get(0, auto, "image/avif,*/*"))
        {
            Assert.Contains("EdgeCache-Edge; hit", Status(again), StringComparison.Ordinal);
            Assert.Equal("image/avif", again.Content.Headers.ContentType?.MediaType);
        }

        // An explicit format is its own object, without Vary.
        using var explicitFormat = await Get(0, "/_img/width=320,format=avif" + original, "image/webp");
        Assert.Equal("image/avif", explicitFormat.Content.Headers.ContentType?.MediaType);
        Assert.False(explicitFormat.Headers.Contains("Vary"));
        Assert.Equal(1, cdn.Origin.Count(original));
    }

    [Fact]
    public async Task A_format_auto_hit_is_a_fast_hit_and_each_accept_gets_its_own_variant()
    {
        var original = NewDir() + "/fast.jpg";
        MapImage(original, TestImages.Photo, "image/jpeg");
        var auto = "/_img/width=256,format=auto" + original;
        const string Avif = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
        const string Webp = "image/webp,*/*";
        var made = new Dictionary<string, byte[]>();
        foreach (var (accept, format) in new[] { (Avif, "avif"), (Webp, "webp"), ("*/*", "jpeg") })
        {
            using var miss = await Get(0, auto, accept);
            made[format] = await miss.Content.ReadAsByteArrayAsync();
            Assert.Equal((format, 256, 192, 1), TestImages.Decode(made[format]));
        }

        // Hits, alternating between browsers on one connection, and in another spelling of the same options:
        // each answered by the fast path (its counter, and Cache-Status detail=memory), each with its own variant.
        var fast = await cdn.Edges[0].FastHitsAsync();
        var cases = new (string Path, string? Accept, string Format)[]
        {
            (auto, Avif, "avif"), (auto, Webp, "webp"), (auto, Avif, "avif"), (auto, "image/png,image/*;q=0.8", "jpeg"),
            (auto, null, "jpeg"), (auto, "image/avif;q=0,image/webp", "webp"), ("/_img/format=auto,width=250" + original, Webp, "webp"),
            (auto, "image/webp,*/*", "webp"), (auto, Avif, "avif"),
        };
        foreach (var (path, accept, format) in cases)
        {
            using var hit = await Get(0, path, accept);
            Assert.Equal(HttpStatusCode.OK, hit.StatusCode);
            var body = await hit.Content.ReadAsByteArrayAsync();
            Assert.Equal((format, 256, 192, 1), TestImages.Decode(body));
            Assert.Equal(made[format], body);
            Assert.Equal("image/" + format, hit.Content.Headers.ContentType?.MediaType);
            Assert.Equal("Accept", string.Join(",", hit.Headers.Vary));
            Assert.Contains("EdgeCache-Edge; hit; ttl=", Status(hit), StringComparison.Ordinal);
            Assert.EndsWith("detail=memory", Status(hit), StringComparison.Ordinal);
        }

        Assert.Equal(fast + cases.Length, await cdn.Edges[0].FastHitsAsync());

        // What the fast path sends is what the full path sends (Max-Forwards leaves it to the full path), byte for byte.
        string Raw(string fields) => $"GET {auto} HTTP/1.1\r\nHost: {Host}\r\nAccept: image/webp,*/*\r\n{fields}\r\n";
        var fastHit = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Raw(""), [false]))[0];
        var fullHit = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Raw(FastHitTests.FullPathField), [false]))[0];
        Assert.Equal(fast + cases.Length + 1, await cdn.Edges[0].FastHitsAsync());
        Assert.Equal(fullHit.StatusLine, fastHit.StatusLine);
        Assert.Equal(fullHit.SortedHeaderLines(), fastHit.SortedHeaderLines());
        Assert.Equal(made["webp"], fastHit.Body);
        Assert.Equal(fullHit.Body, fastHit.Body);
        Assert.Equal(1, cdn.Origin.Count(original));
    }

    [Fact]
    public async Task Spellings_of_one_step_are_one_object_and_an_original_is_never_enlarged_by_default()
    {
        var original = NewDir() + "/owl.jpg";
        MapImage(original, TestImages.Photo, "image/jpeg");
        var made = Made();
        using (var first = await Get(0, "/_img/width=390,format=png" + original))
        {
            Assert.Equal(("png", 400, 300, 1), TestImages.Decode(await first.Content.ReadAsByteArrayAsync()));
        }

        using (var second = await Get(0, "/_img/format=png,width=400,quality=80" + original))
        {
            Assert.Contains("EdgeCache-Edge; hit", Status(second), StringComparison.Ordinal);
        }

        using (var big = await Get(0, "/_img/width=2000" + original))
        {
            // 2000 is a step above the original's 800: scale-down keeps 800, in the original's format.
            Assert.Equal(("jpeg", 800, 600, 1), TestImages.Decode(await big.Content.ReadAsByteArrayAsync()));
        }

        using (var contain = await Get(0, "/_img/width=1000,fit=contain" + original))
        {
            Assert.Equal(("jpeg", 1024, 768, 1), TestImages.Decode(await contain.Content.ReadAsByteArrayAsync()));
        }

        using (var cover = await Get(0, "/_img/width=200,height=200,fit=cover" + original))
        {
            Assert.Equal(("jpeg", 256, 256, 1), TestImages.Decode(await cover.Content.ReadAsByteArrayAsync()));
        }

        using (var dpr = await Get(0, "/_img/width=128,dpr=2,format=webp" + original))
        {
            Assert.Equal(("webp", 256, 192, 1), TestImages.Decode(await dpr.Content.ReadAsByteArrayAsync()));
        }

        Assert.Equal(made + 5, Made());
        Assert.Equal(1, cdn.Origin.Count(original));
    }

    [Fact]
    public async Task Past_the_cap_an_original_gets_no_more_variants_and_the_original_is_served()
    {
        var original = NewDir() + "/many.jpg";
        MapImage(original, TestImages.Photo, "image/jpeg");
        string[] widths = ["64", "128", "256", "320", "400", "480"];
        foreach (var w in widths)
        {
            using var r = await Get(0, $"/_img/width={w}" + original);
            Assert.Equal(int.Parse(w, System.Globalization.CultureInfo.InvariantCulture), TestImages.Decode(await r.Content.ReadAsByteArrayAsync()).Width);
        }

        // The cap is 6 on this host: the seventh is the original, not stored by anyone.
        using var seventh = await Get(0, "/_img/width=640" + original);
        Assert.Equal(HttpStatusCode.OK, seventh.StatusCode);
        Assert.Equal(TestImages.Photo, await seventh.Content.ReadAsByteArrayAsync());
        Assert.Contains("image-refused=variant-limit", Status(seventh), StringComparison.Ordinal);
        Assert.Contains("no-store", seventh.Headers.CacheControl?.ToString(), StringComparison.Ordinal);

        // One already made is still served.
        using var again = await Get(1, "/_img/width=64" + original);
        Assert.Equal(64, TestImages.Decode(await again.Content.ReadAsByteArrayAsync()).Width);
    }

    [Theory]
    [InlineData("/_img/width=abc/photos/x.jpg", "width='abc'")]
    [InlineData("/_img/fit=stretch/photos/x.jpg", "fit='stretch'")]
    [InlineData("/_img/quality=0/photos/x.jpg", "quality='0'")]
    [InlineData("/_img/format=bmp/photos/x.jpg", "format='bmp'")]
    [InlineData("/_img/blur=3/photos/x.jpg", "not an image option")]
    [InlineData("/_img/width=400", "{options}/{path of the original}")]
    public async Task An_invalid_option_is_a_400_problem_and_nothing_goes_upstream(string path, string says)
    {
        var before = cdn.Origin.TotalRequests;
        using var r = await Get(0, path);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        Assert.Equal(400, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Contains(says, problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, cdn.Origin.TotalRequests);
    }

    [Theory]
    [InlineData("svg", "image/svg+xml")]
    [InlineData("svg-labelled-jpeg", "image/jpeg")]
    [InlineData("html-labelled-jpeg", "image/jpeg")]
    [InlineData("png-labelled-jpeg", "image/jpeg")]
    [InlineData("bomb", "image/png")]
    [InlineData("truncated", "image/jpeg")]
    [InlineData("truncated-decoded-at-a-quarter", "image/jpeg")]
    [InlineData("truncated-gif", "image/gif")]
    public async Task An_original_that_cannot_be_transformed_safely_is_served_as_it_is_saying_why(string kind, string contentType)
    {
        var body = kind switch
        {
            "svg" or "svg-labelled-jpeg" => TestImages.Svg,
            "html-labelled-jpeg" => "<html><script>alert(1)</script></html>"u8.ToArray(),
            "png-labelled-jpeg" => TestImages.Png(64, 64),
            "truncated" => TestImages.Photo[..(TestImages.Photo.Length / 2)],
            "truncated-decoded-at-a-quarter" => TestImages.Jpeg(2000, 1500)[..(TestImages.Jpeg(2000, 1500).Length / 2)],
            "truncated-gif" => TestImages.AnimatedGif(200, 100, 3)[..(TestImages.AnimatedGif(200, 100, 3).Length * 2 / 3)],
            _ => TestImages.Bomb(),
        };
        var reason = kind switch
        {
            "svg" or "svg-labelled-jpeg" => "svg",
            "html-labelled-jpeg" => "not-an-image",
            "png-labelled-jpeg" => "type-mismatch",
            "truncated" or "truncated-decoded-at-a-quarter" or "truncated-gif" => "decode",
            _ => "pixel-limit",
        };
        var original = NewDir() + "/" + kind;
        MapImage(original, body, contentType);
        var refused = Refused();
        var made = Made();
        for (var i = 0; i < 2; i++)
        {
            using var r = await Get(i, "/_img/width=400,format=webp" + original);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(body, await r.Content.ReadAsByteArrayAsync());
            Assert.Equal(contentType, r.Content.Headers.ContentType?.MediaType);
            Assert.Contains("EdgeCache-Shield; fwd=", Status(r), StringComparison.Ordinal);
            Assert.Contains("detail=image-fallback; image-refused=" + reason, Status(r), StringComparison.Ordinal);
            Assert.Contains("no-store", r.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
        }

        Assert.Equal(made, Made());
        Assert.Equal(refused + 2, Refused());
        Assert.Equal(1, cdn.Origin.Count(original));
    }

    [Fact]
    public async Task An_animated_gif_stays_animated_in_webp_and_a_still_format_gets_the_original()
    {
        var original = NewDir() + "/spin.gif";
        var gif = TestImages.AnimatedGif(200, 100, 3);
        MapImage(original, gif, "image/gif");
        using (var webp = await Get(0, "/_img/width=128,format=auto" + original, "image/avif,image/webp,*/*"))
        {
            // Auto chose AVIF, which keeps no animation here: the original's format instead.
            Assert.Equal(("gif", 128, 64, 3), TestImages.Decode(await webp.Content.ReadAsByteArrayAsync()));
        }

        using (var webp = await Get(0, "/_img/width=128,format=webp" + original))
        {
            Assert.Equal(("webp", 128, 64, 3), TestImages.Decode(await webp.Content.ReadAsByteArrayAsync()));
        }

        using var jpeg = await Get(0, "/_img/width=128,format=jpeg" + original);
        Assert.Equal(gif, await jpeg.Content.ReadAsByteArrayAsync());
        Assert.Contains("image-refused=animated-format", Status(jpeg), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Orientation_is_applied_and_metadata_removed()
    {
        var original = NewDir() + "/sideways.jpg";
        var sideways = TestImages.SidewaysJpeg(800, 600);
        Assert.True(TestImages.HasMetadata(sideways));
        MapImage(original, sideways, "image/jpeg");
        using var r = await Get(0, "/_img/width=300" + original);
        var body = await r.Content.ReadAsByteArrayAsync();

        // 300 is the 320 step; stored 800x600 sideways, displayed 600x800: 320x427.
        Assert.Equal(("jpeg", 320, 427, 1), TestImages.Decode(body));
        Assert.False(TestImages.HasMetadata(body));
        Assert.DoesNotContain("secret camera notes"u8.ToArray(), body.Chunk(19).Select(c => c.ToArray()));
    }

    [Fact]
    public async Task A_JPEG_decoded_at_a_quarter_of_its_size_keeps_the_asked_size_orientation_and_crop()
    {
        // 2000x1500 to 256 px: a reduction of 5.9 to 7.8, so the worker decodes at 1/4 (shrink-on-load) and resizes
        // the rest; the target applies to the displayed (rotated) image.
        var dir = NewDir();
        MapImage(dir + "/sideways.jpg", TestImages.SidewaysJpeg(2000, 1500), "image/jpeg");
        MapImage(dir + "/wide.jpg", TestImages.Jpeg(2000, 1500), "image/jpeg");
        using (var sideways = await Get(0, "/_img/width=256" + dir + "/sideways.jpg"))
        {
            Assert.Equal(("jpeg", 256, 341, 1), TestImages.Decode(await sideways.Content.ReadAsByteArrayAsync()));
        }

        using (var tall = await Get(0, "/_img/height=256,format=webp" + dir + "/sideways.jpg"))
        {
            Assert.Equal(("webp", 192, 256, 1), TestImages.Decode(await tall.Content.ReadAsByteArrayAsync()));
        }

        using (var cover = await Get(0, "/_img/width=256,height=256,fit=cover" + dir + "/wide.jpg"))
        {
            Assert.Equal(("jpeg", 256, 256, 1), TestImages.Decode(await cover.Content.ReadAsByteArrayAsync()));
        }

        using (var contain = await Get(0, "/_img/width=128,height=128,fit=contain,format=avif" + dir + "/wide.jpg"))
        {
            Assert.Equal(("avif", 128, 96, 1), TestImages.Decode(await contain.Content.ReadAsByteArrayAsync()));
        }
    }

    [Fact]
    public async Task An_embedded_colour_profile_is_applied_and_the_variant_is_plain_srgb()
    {
        var original = NewDir() + "/p3.jpg";
        var p3 = TestImages.RedInDisplayP3();
        var (raw, tagged) = TestImages.Colour(p3);
        Assert.True(tagged);
        Assert.True(raw[0] < 245 && raw[1] > 30, $"P3 red is stored as about (234, 51, 35): {string.Join(", ", raw)}");
        MapImage(original, p3, "image/jpeg");
        using var r = await Get(0, "/_img/width=64,format=png" + original);
        var (means, hasProfile) = TestImages.Colour(await r.Content.ReadAsByteArrayAsync());

        // Converted to sRGB through the embedded profile: red again, and no profile left to apply.
        Assert.False(hasProfile);
        Assert.True(means[0] > 250 && means[1] < 8 && means[2] < 8, $"sRGB red: {string.Join(", ", means)}");
    }

    [Fact]
    public async Task Head_ranges_and_conditional_requests_work_on_a_variant()
    {
        var original = NewDir() + "/hen.jpg";
        MapImage(original, TestImages.Photo, "image/jpeg", etag: "\"hen-1\"");
        var path = "/_img/width=256,format=webp" + original;
        using var head = await Get(0, path, method: HttpMethod.Head);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal("image/webp", head.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        var etag = head.Headers.ETag?.Tag;
        Assert.NotNull(etag);
        Assert.StartsWith("\"hen-1-img", etag, StringComparison.Ordinal);

        using var full = await Get(1, path);
        var bytes = await full.Content.ReadAsByteArrayAsync();
        Assert.Equal(head.Content.Headers.ContentLength, bytes.Length);
        Assert.Equal(etag, full.Headers.ETag?.Tag);

        foreach (var edge in new[] { 0, 1 })
        {
            using var range = await Get(edge, path, more: m => m.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(10, 109));
            Assert.Equal(HttpStatusCode.PartialContent, range.StatusCode);
            Assert.Equal(bytes[10..110], await range.Content.ReadAsByteArrayAsync());
            Assert.Equal($"bytes 10-109/{bytes.Length}", range.Content.Headers.ContentRange?.ToString());

            using var notModified = await Get(edge, path, more: m => m.Headers.TryAddWithoutValidation("If-None-Match", etag));
            Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

            // The original's own tag is another representation's: it does not match the variant.
            using var other = await Get(edge, path, more: m => m.Headers.TryAddWithoutValidation("If-None-Match", "\"hen-1\""));
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }

        Assert.Equal(1, cdn.Origin.Count(original));
    }

    [Fact]
    public async Task A_path_outside_the_prefix_and_a_host_without_images_are_untouched()
    {
        var dir = NewDir();
        cdn.Origin.MapStatic("/_img/width=400" + dir + "/a.jpg", "the origin's own path", ("Cache-Control", "max-age=60"));
        using var r = await cdn.GetAsync(0, "/_img/width=400" + dir + "/a.jpg", Topology.Site);
        Assert.Equal("the origin's own path", await r.Content.ReadAsStringAsync());
    }
}
