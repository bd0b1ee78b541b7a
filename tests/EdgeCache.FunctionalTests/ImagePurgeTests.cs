using EdgeCache.FunctionalTests.Infrastructure;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// A purge of an original by URL through the purge API (real nats-server, both edges and both shields)
/// removes its image variants on every node: the next variant request at each edge is not a hit, the origin
/// is asked for the original exactly once more, and each shield makes the variant again.
/// </summary>
[Collection(InvalidationFixtureGroup.Name)]
public sealed class ImagePurgeTests(InvalidationTopology cdn)
{
    private const string Host = Topology.ImageSite;

    private async Task<HttpResponseMessage> GetShieldAsync(int shield, string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(cdn.ShieldUri(shield), path));
        request.Headers.Host = Host;
        return await cdn.Client.SendAsync(request);
    }

    private long[] MadeByShield() => cdn.Shields.Select(s => s.Metric("edgecache.images.variants")).ToArray();

    [Fact]
    public async Task Purging_the_original_by_url_removes_its_variants_on_every_edge_and_shield()
    {
        var original = $"/photos/{Guid.NewGuid():N}/purged.jpg";
        var variant = "/_img/width=256,format=webp" + original;
        cdn.Origin.Map(original, async ctx =>
        {
            ctx.Response.Headers.CacheControl = "public, max-age=3600";
            ctx.Response.Headers.ETag = "\"p1\"";
            ctx.Response.ContentType = "image/jpeg";
            await ctx.Response.Body.WriteAsync(TestImages.Photo);
        });

        // Both edges hold the variant as a hit; both shields hold it (the owner by the edges' misses, the other
        // by a direct request: it fetches the original itself).
        var made = MadeByShield();
        for (var e = 0; e < 2; e++)
        {
            using (await cdn.GetAsync(e, variant, Host))
            {
            }

            using var hit = await cdn.GetAsync(e, variant, Host);
            Assert.Contains("hit", hit.EdgeStatus(), StringComparison.Ordinal);
            Assert.Equal(("webp", 256, 192, 1), TestImages.Decode(await hit.Content.ReadAsByteArrayAsync()));
        }

        var owner = MadeByShield()[0] > made[0] ? 0 : 1;
        Assert.Equal(made[owner] + 1, MadeByShield()[owner]);
        using (var other = await GetShieldAsync(1 - owner, variant))
        {
            Assert.Equal("image/webp", other.Content.Headers.ContentType?.MediaType);
        }

        for (var s = 0; s < 2; s++)
        {
            using var held = await GetShieldAsync(s, variant);
            Assert.Contains("EdgeCache-Shield; hit", held.ShieldStatus(), StringComparison.Ordinal);
        }

        var fetched = cdn.Origin.Count(original);
        made = MadeByShield();

        await cdn.PurgeAsync($"{{\"urls\":[\"https://{Host}{original}\"]}}");

        // Edge 1: not a hit; its shield fetches the original once more and makes the variant again.
        using (var first = await cdn.GetAsync(0, variant, Host))
        {
            Assert.DoesNotContain("hit", first.EdgeStatus(), StringComparison.Ordinal);
            Assert.Equal(("webp", 256, 192, 1), TestImages.Decode(await first.Content.ReadAsByteArrayAsync()));
        }

        Assert.Equal(fetched + 1, cdn.Origin.Count(original));
        Assert.Equal(made[owner] + 1, MadeByShield()[owner]);

        // Edge 2: purged too (not a hit), refilled from the owner shield's new copy: no further origin request.
        using (var second = await cdn.GetAsync(1, variant, Host))
        {
            Assert.DoesNotContain("hit", second.EdgeStatus(), StringComparison.Ordinal);
            Assert.Equal("image/webp", second.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal(fetched + 1, cdn.Origin.Count(original));

        // The other shield's copy is gone as well: asked directly, it makes the variant again from a new fetch.
        using (var other = await GetShieldAsync(1 - owner, variant))
        {
            Assert.DoesNotContain("hit", other.ShieldStatus(), StringComparison.Ordinal);
            Assert.Equal("image/webp", other.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal(made[1 - owner] + 1, MadeByShield()[1 - owner]);
        Assert.Equal(fetched + 2, cdn.Origin.Count(original));
    }
}
