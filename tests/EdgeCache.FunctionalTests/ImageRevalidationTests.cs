using System.Net;
using EdgeCache.FunctionalTests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// A stale image variant is revalidated through its original (issue 19): the shield asks the origin about
/// the original with the original's validators; a 304 freshens the variant as it is (no new transformation,
/// the same derived entity-tag), a 200 with another original makes it again. Counted at the origin (what it
/// was asked, with which validators) and in the shields' <c>edgecache.images.variants</c>; every answer decoded.
/// </summary>
[Collection(CdnFixtureGroup.Name)]
public sealed class ImageRevalidationTests(Topology cdn)
{
    private const string Host = Topology.ImageSite;

    private long Made() => cdn.Shields.Sum(s => s.Metric("edgecache.images.variants"));

    private long Freshened() => cdn.Shields.Sum(s => s.Metric("edgecache.images.freshened"));

    private Task<HttpResponseMessage> Get(int edge, string path, string? accept = null) =>
        cdn.GetAsync(edge, path, Host, m =>
        {
            if (accept is not null) m.Headers.TryAddWithoutValidation("Accept", accept);
        });

    /// <summary>An original that answers its validator with a 304, and can be changed (<paramref name="current"/>).</summary>
    private void MapConditional(string path, Func<(byte[] Body, string ETag)> current) =>
        cdn.Origin.Map(path, async ctx =>
        {
            var (body, etag) = current();
            ctx.Response.Headers.CacheControl = "max-age=60";
            ctx.Response.Headers.ETag = etag;
            ctx.Response.Headers.LastModified = "Mon, 02 Nov 2026 10:00:00 GMT";
            if (ctx.Request.Headers.IfNoneMatch.ToString() == etag)
            {
                ctx.Response.StatusCode = StatusCodes.Status304NotModified;
                return;
            }

            ctx.Response.ContentType = "image/jpeg";
            ctx.Response.ContentLength = body.Length;
            await ctx.Response.Body.WriteAsync(body);
        });

    [Theory]
    [InlineData("/_img/width=400,format=webp", null, "webp")]
    [InlineData("/_img/width=400,format=auto", "image/avif,image/webp,*/*", "avif")]
    public async Task A_stale_variant_is_freshened_by_a_304_for_its_original_and_made_again_when_the_original_changed(string options, string? accept, string format)
    {
        var original = "/photos/" + Guid.NewGuid().ToString("N") + "/stale.jpg";
        var current = (Body: TestImages.Photo, ETag: "\"s1\"");
        MapConditional(original, () => current);
        var path = options + original;
        var made = Made();
        var freshened = Freshened();
        string etag;
        using (var first = await Get(0, path, accept))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal((format, 400, 300, 1), TestImages.Decode(await first.Content.ReadAsByteArrayAsync()));
            etag = first.Headers.ETag!.Tag;
            Assert.StartsWith("\"s1-img", etag, StringComparison.Ordinal);
        }

        Assert.Equal(made + 1, Made());
        Assert.Equal(1, cdn.Origin.Count(original));

        // Stale on the edge and on the shield (a variant has its original's freshness).
        cdn.Clock.Advance(TimeSpan.FromSeconds(61));
        using (var revalidated = await Get(0, path, accept))
        {
            Assert.Equal(HttpStatusCode.OK, revalidated.StatusCode);
            Assert.Equal((format, 400, 300, 1), TestImages.Decode(await revalidated.Content.ReadAsByteArrayAsync()));
            Assert.Equal(etag, revalidated.Headers.ETag!.Tag);
            Assert.Equal(TimeSpan.Zero, revalidated.Headers.Age ?? TimeSpan.Zero);
        }

        // One conditional request for the original, with its own validator, and no new transformation.
        var asked = cdn.Origin.Requests(original);
        Assert.Equal(2, asked.Count);
        Assert.Equal("\"s1\"", asked[1].Headers.GetValueOrDefault("If-None-Match"));
        Assert.Equal(made + 1, Made());
        Assert.Equal(freshened + 1, Freshened());

        // Fresh again on both tiers: a hit at the edge, nothing upstream.
        using (var hit = await Get(0, path, accept))
        {
            Assert.Contains("EdgeCache-Edge; hit", string.Join(" | ", hit.Headers.GetValues("Cache-Status")), StringComparison.Ordinal);
        }

        Assert.Equal(2, cdn.Origin.Count(original));

        // The original changes: the next revalidation gets it in full and the variant is made from it.
        current = (TestImages.Jpeg(800, 400), "\"s2\"");
        cdn.Clock.Advance(TimeSpan.FromSeconds(61));
        using (var remade = await Get(0, path, accept))
        {
            Assert.Equal(HttpStatusCode.OK, remade.StatusCode);
            Assert.Equal((format, 400, 200, 1), TestImages.Decode(await remade.Content.ReadAsByteArrayAsync()));
            Assert.StartsWith("\"s2-img", remade.Headers.ETag!.Tag, StringComparison.Ordinal);
        }

        Assert.Equal(3, cdn.Origin.Count(original));
        Assert.Equal("\"s1\"", cdn.Origin.Requests(original)[2].Headers.GetValueOrDefault("If-None-Match"));
        Assert.Equal(made + 2, Made());
        Assert.Equal(freshened + 1, Freshened());
    }
}
