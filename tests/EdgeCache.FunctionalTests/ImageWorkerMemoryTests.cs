using System.Net;
using EdgeCache.FunctionalTests.Infrastructure;

namespace EdgeCache.FunctionalTests;

/// <summary>One shield whose image workers may use 160 MiB each (<c>EdgeCache:ImageWorkers:MemoryLimitBytes</c>;
/// a worker uses about 100 MiB of its own), with a pixel limit high enough for a 5000x5000 original, and one edge.</summary>
public sealed class ImageWorkerMemoryTopology : Topology
{
    public const long Limit = 160L * 1024 * 1024;

    public ImageWorkerMemoryTopology() : base(shields: 1, edges: 1)
    {
    }

    protected override Dictionary<string, string?> ShieldConfig(string id)
    {
        var c = base.ShieldConfig(id);
        c["EdgeCache:ImageWorkers:Count"] = "1";
        c["EdgeCache:ImageWorkers:MemoryLimitBytes"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        c[$"EdgeCache:Hosts:{ImageSite}:Images:MaxPixels"] = "30000000";
        return c;
    }
}

/// <summary>
/// A transformation that needs more memory than a worker may use costs one variant, never the node (issue 19):
/// a 5000x5000 interlaced PNG (libvips decodes it into one 75 MB buffer) is within the pixel limit but not the
/// memory limit; the original is served, saying why, and the same shield goes on making variants of other originals.
/// </summary>
public sealed class ImageWorkerMemoryTests(ImageWorkerMemoryTopology cdn) : IClassFixture<ImageWorkerMemoryTopology>
{
    private const string Host = Topology.ImageSite;

    private long Metric(string name, params (string, string)[] tags) => cdn.Shields[0].Metric(name, tags);

    private void Map(string path, byte[] body, string contentType) =>
        cdn.Origin.Map(path, async ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            ctx.Response.ContentType = contentType;
            ctx.Response.ContentLength = body.Length;
            await ctx.Response.Body.WriteAsync(body);
        });

    [Fact]
    public async Task A_job_past_the_worker_memory_limit_serves_the_original_and_the_shield_goes_on()
    {
        var dir = "/photos/" + Guid.NewGuid().ToString("N");
        var huge = TestImages.InterlacedPng(5000, 5000);
        Map(dir + "/huge.png", huge, "image/png");
        Map(dir + "/small.jpg", TestImages.Photo, "image/jpeg");
        var memory = Metric("edgecache.images.refused", ("edgecache.reason", "memory"));
        var crashed = Metric("edgecache.images.refused", ("edgecache.reason", "worker-crashed"));
        var made = Metric("edgecache.images.variants");

        using (var refused = await cdn.GetAsync(0, "/_img/width=400,format=webp" + dir + "/huge.png", Host))
        {
            Assert.Equal(HttpStatusCode.OK, refused.StatusCode);
            var status = string.Join(" | ", refused.Headers.GetValues("Cache-Status"));
            Assert.Equal(huge, await refused.Content.ReadAsByteArrayAsync());
            Assert.Equal("image/png", refused.Content.Headers.ContentType?.MediaType);
            Assert.Contains("no-store", refused.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
            Assert.Contains("detail=image-fallback; image-refused=memory", status, StringComparison.Ordinal);
        }

        Assert.Equal(memory + 1, Metric("edgecache.images.refused", ("edgecache.reason", "memory")));
        Assert.Equal(crashed, Metric("edgecache.images.refused", ("edgecache.reason", "worker-crashed")));

        // The node and its worker go on: a variant of another original is made, decoded to check it.
        using (var small = await cdn.GetAsync(0, "/_img/width=256,format=webp" + dir + "/small.jpg", Host))
        {
            Assert.Equal(("webp", 256, 192, 1), TestImages.Decode(await small.Content.ReadAsByteArrayAsync()));
        }

        Assert.Equal(made + 1, Metric("edgecache.images.variants"));
        Assert.StartsWith("ok", (await cdn.Shields[0].HealthAsync()).Trim(), StringComparison.OrdinalIgnoreCase);
    }
}
