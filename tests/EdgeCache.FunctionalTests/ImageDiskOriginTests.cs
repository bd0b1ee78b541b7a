using System.Net;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests;

/// <summary>One shield whose memory tier takes objects of 64 KiB at most, with a disk tier, and one edge: an
/// image original (a 2000x1500 photo-like JPEG, far larger) is only on the shield's disk.</summary>
public sealed class ImageDiskShieldTopology : Topology
{
    public string DataRoot { get; } = Path.Combine(Path.GetTempPath(), "edgecache-ft-" + Guid.NewGuid().ToString("N"));

    public ImageDiskShieldTopology() : base(shields: 1, edges: 1)
    {
    }

    protected override Dictionary<string, string?> ShieldConfig(string id)
    {
        var c = base.ShieldConfig(id);
        c["EdgeCache:MaxObjectBytes"] = (64 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        c["EdgeCache:Disk:Directory"] = Path.Combine(DataRoot, id);
        c["EdgeCache:Disk:BudgetBytes"] = (1024L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        c["EdgeCache:Disk:LogMemoryBytes"] = (16L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        c["EdgeCache:Disk:MaxObjectBytes"] = (64L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        c[$"EdgeCache:Hosts:{ImageSite}:Images:MaxPixels"] = "50000000";
        return c;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(DataRoot)) Directory.Delete(DataRoot, recursive: true);
    }
}

/// <summary>
/// An original only the shield's disk tier holds is read from there to make a variant, never fetched from the
/// origin again (issue 19): counted at the origin, variants counted in the shield's metrics and decoded.
/// </summary>
public sealed class ImageDiskOriginTests(ImageDiskShieldTopology cdn) : IClassFixture<ImageDiskShieldTopology>
{
    private const string Host = Topology.ImageSite;

    private long Made() => cdn.Shields[0].Metric("edgecache.images.variants");

    private Task<long> ShieldDiskBytesAsync() => cdn.Shields[0].StatusValueAsync<long>("disk", "bytes");

    private async Task PutOriginalOnDiskAsync(string original, long before)
    {
        await Topology.WaitUntilAsync(async () => await ShieldDiskBytesAsync() > before + (TestImages.Large.Length / 2), original + " never reached the shield's disk tier", TimeSpan.FromSeconds(20));
        await cdn.Shields[0].Services.GetRequiredService<CacheEngine>().FlushDiskWritesAsync();
    }

    [Fact]
    public async Task Variants_of_an_original_only_on_disk_are_made_from_the_disk_copy()
    {
        var original = "/photos/" + Guid.NewGuid().ToString("N") + "/big.jpg";
        cdn.Origin.Map(original, async ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            ctx.Response.Headers.ETag = "\"big-1\"";
            if (ctx.Request.Headers.IfNoneMatch == "\"big-1\"")
            {
                ctx.Response.StatusCode = StatusCodes.Status304NotModified;
                return;
            }

            ctx.Response.ContentType = "image/jpeg";
            ctx.Response.ContentLength = TestImages.Large.Length;
            await ctx.Response.Body.WriteAsync(TestImages.Large);
        });
        var before = await ShieldDiskBytesAsync();
        var made = Made();
        using (var first = await cdn.GetAsync(0, "/_img/width=400,format=webp" + original, Host))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal(("webp", 400, 300, 1), TestImages.Decode(await first.Content.ReadAsByteArrayAsync()));
        }

        await PutOriginalOnDiskAsync(original, before);
        foreach (var (options, expected) in new[] { ("width=256,format=webp", ("webp", 256, 192, 1)), ("width=640", ("jpeg", 640, 480, 1)), ("width=128,format=png", ("png", 128, 96, 1)) })
        {
            using var r = await cdn.GetAsync(0, "/_img/" + options + original, Host);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(expected, TestImages.Decode(await r.Content.ReadAsByteArrayAsync()));
        }

        Assert.Equal(made + 4, Made());
        Assert.Equal(1, cdn.Origin.Count(original));

        // Stale (original and variants alike): the disk copy's validator revalidates it, and the 304 freshens
        // the variant without a transformation.
        cdn.Clock.Advance(TimeSpan.FromSeconds(601));
        using (var stale = await cdn.GetAsync(0, "/_img/width=400,format=webp" + original, Host))
        {
            Assert.Equal(HttpStatusCode.OK, stale.StatusCode);
            Assert.Equal(("webp", 400, 300, 1), TestImages.Decode(await stale.Content.ReadAsByteArrayAsync()));
        }

        var asked = cdn.Origin.Requests(original);
        Assert.Equal(2, asked.Count);
        Assert.Equal("\"big-1\"", asked[1].Headers.GetValueOrDefault("If-None-Match"));
        Assert.Equal(made + 4, Made());
    }
}
