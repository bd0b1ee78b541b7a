using System.Net;
using EdgeCache.FunctionalTests.Infrastructure;

namespace EdgeCache.FunctionalTests;

/// <summary>One shield and one edge whose memory tier (8 MiB) is far smaller than what is requested;
/// the edge has a FASTER disk tier in a temporary directory.</summary>
public sealed class DiskTopology : Topology
{
    public string DataRoot { get; } = Path.Combine(Path.GetTempPath(), "edgecache-ft-" + Guid.NewGuid().ToString("N"));

    public DiskTopology() : base(shields: 1, edges: 1)
    {
    }

    protected override Dictionary<string, string?> ShieldConfig(string id)
    {
        var c = base.ShieldConfig(id);
        c["EdgeCache:MemoryBudgetBytes"] = (512L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return c;
    }

    protected override Dictionary<string, string?> EdgeConfig(string id)
    {
        var c = base.EdgeConfig(id);
        c["EdgeCache:MemoryBudgetBytes"] = (8 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        c["EdgeCache:MaxObjectBytes"] = (4 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        c["EdgeCache:Disk:Directory"] = Path.Combine(DataRoot, id);
        c["EdgeCache:Disk:BudgetBytes"] = (1024L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        c["EdgeCache:Disk:LogMemoryBytes"] = (16L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        c["EdgeCache:Disk:MaxObjectBytes"] = (64L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return c;
    }

    /// <summary>
    /// Requests <paramref name="path"/> from the edge and waits until its disk tier holds the object. The edge
    /// writes a stored response to disk in the background, once its body completes: wait until the disk log
    /// grows (<c>/status.json</c> <c>disk.bytes</c>: the write began), then for the writes in flight to finish.
    /// </summary>
    public async Task<HttpResponseMessage> GetOnDiskAsync(string path)
    {
        Task<long> LogBytesAsync() => Edges[0].StatusValueAsync<long>("disk", "bytes");
        var before = await LogBytesAsync();
        var response = await GetAsync(0, path);
        await WaitUntilAsync(async () => await LogBytesAsync() > before, path + " never reached the disk tier", TimeSpan.FromSeconds(20));

        // No report says when one object's write is complete: the engine's flush waits for the one under way.
        await EdgeEngine(0).FlushDiskWritesAsync();
        return response;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(DataRoot)) Directory.Delete(DataRoot, recursive: true);
    }
}

public sealed class DiskTierTests(DiskTopology cdn) : IClassFixture<DiskTopology>
{
    [Fact]
    public async Task With_8_MiB_of_memory_200_MiB_of_objects_come_back_as_disk_hits_without_origin_requests()
    {
        const int count = 100;
        var bodies = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            bodies[i] = new byte[2 * 1024 * 1024];
            new Random(i).NextBytes(bodies[i]);
            var body = bodies[i];
            cdn.Origin.Map($"/disk/{i}", ctx =>
            {
                ctx.Response.Headers.CacheControl = "max-age=3600";
                ctx.Response.ContentLength = body.Length;
                return ctx.Response.Body.WriteAsync(body).AsTask();
            });
        }

        for (var i = 0; i < count; i++)
        {
            using var r = await cdn.GetOnDiskAsync($"/disk/{i}");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        Assert.Equal(0, cdn.Edges[0].Metric("edgecache.disk.writes.dropped"));

        Assert.True(await cdn.Edges[0].StatusValueAsync<long>("memory", "bytes") <= 8 * 1024 * 1024);
        var diskHits = 0;
        for (var i = 0; i < count; i++)
        {
            using var r = await cdn.GetAsync(0, $"/disk/{i}");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.StartsWith("EdgeCache-Edge; hit", r.EdgeStatus(), StringComparison.Ordinal);
            if (r.EdgeStatus().Contains("detail=disk", StringComparison.Ordinal)) diskHits++;
            Assert.Equal(bodies[i], await r.Content.ReadAsByteArrayAsync());
        }

        Assert.True(diskHits >= count - 4, $"{diskHits} disk hits");
        Assert.Equal(count, Enumerable.Range(0, count).Sum(i => cdn.Origin.Count($"/disk/{i}")));
    }

    [Fact]
    public async Task An_object_too_large_for_memory_is_on_disk_when_its_request_ends_so_the_next_one_is_an_edge_hit()
    {
        // Only the disk tier keeps it: until its write is done the fetch that brought it is the one
        // copy, so that fetch stays joinable and the request ends only when the disk has it.
        var body = new byte[24 * 1024 * 1024];
        new Random(11).NextBytes(body);
        for (var i = 0; i < 3; i++)
        {
            var path = $"/disk/only/{i}";
            cdn.Origin.Map(path, ctx =>
            {
                ctx.Response.Headers.CacheControl = "max-age=3600";
                ctx.Response.ContentLength = body.Length;
                return ctx.Response.Body.WriteAsync(body).AsTask();
            });

            using (var first = await cdn.GetAsync(0, path))
            {
                Assert.Equal(body, await first.Content.ReadAsByteArrayAsync());
            }

            using var next = await cdn.GetAsync(0, path);
            Assert.StartsWith("EdgeCache-Edge; hit", next.EdgeStatus(), StringComparison.Ordinal);
            Assert.Contains("detail=disk", next.EdgeStatus(), StringComparison.Ordinal);
            Assert.Equal(body, await next.Content.ReadAsByteArrayAsync());
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_object_larger_than_the_memory_tier_streams_from_disk_and_serves_ranges(bool contentLength)
    {
        var body = new byte[20 * 1024 * 1024 + 11];
        new Random(7).NextBytes(body);
        var path = "/disk/large/" + contentLength;
        cdn.Origin.Map(path, async ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=3600";
            if (contentLength) ctx.Response.ContentLength = body.Length;
            for (var offset = 0; offset < body.Length; offset += 1024 * 1024)
            {
                await ctx.Response.Body.WriteAsync(body.AsMemory(offset, Math.Min(1024 * 1024, body.Length - offset)));
            }
        });

        using (var first = await cdn.GetOnDiskAsync(path))
        {
            Assert.Equal(body, await first.Content.ReadAsByteArrayAsync());
        }

        using var hit = await cdn.GetAsync(0, path);
        Assert.Contains("detail=disk", hit.EdgeStatus(), StringComparison.Ordinal);
        Assert.Equal(body, await hit.Content.ReadAsByteArrayAsync());

        using var range = await cdn.GetAsync(0, path, configure: m => m.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(15_000_000, 15_300_000));
        Assert.Equal(HttpStatusCode.PartialContent, range.StatusCode);
        Assert.Equal(body.AsSpan(15_000_000, 300_001).ToArray(), await range.Content.ReadAsByteArrayAsync());

        Assert.Equal($"bytes 15000000-15300000/{body.Length}", range.Header("Content-Range"));
        using var tail = await cdn.GetAsync(0, path, configure: m => m.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(null, 5));
        Assert.Equal(body.AsSpan(body.Length - 5).ToArray(), await tail.Content.ReadAsByteArrayAsync());

        using var head = await cdn.GetAsync(0, path, method: HttpMethod.Head);
        Assert.Equal(body.Length, head.Content.Headers.ContentLength);
        Assert.Equal(1, cdn.Origin.Count(path));
    }
}

public sealed class DiskMetricsTests(DiskTopology cdn) : IClassFixture<DiskTopology>
{
    [Fact]
    public async Task The_disk_tier_reports_its_health_and_size_as_metrics()
    {
        cdn.Origin.MapStatic("/metrics-object", new string('x', 50_000), ("Cache-Control", "max-age=600"));
        (await cdn.GetOnDiskAsync("/metrics-object")).Dispose();

        var edge = cdn.Edges[0];
        Assert.Equal(1, edge.Metric("edgecache.disk.healthy"));
        Assert.True(edge.Metric("edgecache.disk.log.size") > 50_000);
        Assert.True(edge.Metric("edgecache.memory.size") > 50_000);
        Assert.Equal(0, edge.Metric("edgecache.disk.failures"));
    }
}
