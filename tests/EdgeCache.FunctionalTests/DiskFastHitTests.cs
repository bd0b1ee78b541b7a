using EdgeCache.FunctionalTests.Infrastructure;

namespace EdgeCache.FunctionalTests;

/// <summary>One shield and one edge whose memory tier takes objects of 64 KiB at most, with a disk tier:
/// larger objects are only on disk, and a hit on one is read into a pooled array and served once.</summary>
public sealed class SmallObjectMemoryDiskTopology : Topology
{
    public const int MemoryMaxObjectBytes = 64 * 1024;

    public string DataRoot { get; } = Path.Combine(Path.GetTempPath(), "edgecache-ft-" + Guid.NewGuid().ToString("N"));

    public SmallObjectMemoryDiskTopology() : base(shields: 1, edges: 1)
    {
    }

    protected override Dictionary<string, string?> EdgeConfig(string id)
    {
        var c = base.EdgeConfig(id);
        c["EdgeCache:MemoryBudgetBytes"] = (8 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        c["EdgeCache:MaxObjectBytes"] = MemoryMaxObjectBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        c["EdgeCache:Disk:Directory"] = Path.Combine(DataRoot, id);
        c["EdgeCache:Disk:BudgetBytes"] = (1024L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        c["EdgeCache:Disk:LogMemoryBytes"] = (16L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        c["EdgeCache:Disk:MaxObjectBytes"] = (64L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return c;
    }

    /// <summary>Fetches <paramref name="path"/> through the edge and waits until its disk tier holds it.</summary>
    public async Task PutOnDiskAsync(string path)
    {
        Task<long> LogBytesAsync() => Edges[0].StatusValueAsync<long>("disk", "bytes");
        var before = await LogBytesAsync();
        using (var response = await GetAsync(0, path)) await response.Content.ReadAsByteArrayAsync();
        await WaitUntilAsync(async () => await LogBytesAsync() > before, path + " never reached the disk tier", TimeSpan.FromSeconds(20));
        await EdgeEngine(0).FlushDiskWritesAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(DataRoot)) Directory.Delete(DataRoot, recursive: true);
    }
}

/// <summary>
/// L2 (disk) hits on the fast hit path: a plain GET or HEAD for an object only the disk tier holds is
/// answered without ASP.NET Core's HTTP layer, from an array rented for the one response (the memory
/// tier will not take the object), and what it sends is what the full path sends, byte for byte.
/// </summary>
public sealed class DiskFastHitTests(SmallObjectMemoryDiskTopology cdn) : IClassFixture<SmallObjectMemoryDiskTopology>
{
    private string MapObject(int size) => FastHitTests.MapObject(cdn.Origin, size);

    [Theory]
    [InlineData(100 * 1024, "GET")]
    [InlineData(300 * 1024, "GET")] // two 256 KiB chunks
    [InlineData(300 * 1024, "HEAD")]
    public async Task A_disk_hit_on_the_fast_path_sends_exactly_what_the_full_path_sends(int size, string method)
    {
        var path = MapObject(size);
        await cdn.PutOnDiskAsync(path);

        var before = await cdn.Edges[0].FastHitsAsync();
        var fast = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path, "Accept: */*\r\n", method), [method == "HEAD"]))[0];
        Assert.Equal(before + 1, await cdn.Edges[0].FastHitsAsync());
        var full = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path, "Accept: */*\r\n" + FastHitTests.FullPathField, method), [method == "HEAD"]))[0];
        Assert.Equal(before + 1, await cdn.Edges[0].FastHitsAsync());

        Assert.Equal("HTTP/1.1 200 OK", fast.StatusLine);
        Assert.Equal(full.SortedHeaderLines(), fast.SortedHeaderLines());
        Assert.Equal(full.Body, fast.Body);
        Assert.Equal(method == "HEAD" ? [] : FastHitTests.Body(size), fast.Body);
        Assert.Equal(size.ToString(System.Globalization.CultureInfo.InvariantCulture), fast.Header("Content-Length"));
        Assert.StartsWith("EdgeCache-Edge; hit", fast.Header("Cache-Status"), StringComparison.Ordinal);
        Assert.Contains("detail=disk", fast.Header("Cache-Status"), StringComparison.Ordinal);
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Pooled_disk_hits_of_different_objects_at_once_each_get_their_own_bytes()
    {
        // Different sizes and contents, read at the same time on several connections: a pooled array
        // given back too early, or to two responses, shows up as another object's bytes.
        var sizes = new[] { 70 * 1024, 100 * 1024, 180 * 1024, 256 * 1024, 257 * 1024, 600 * 1024 };
        var bodies = new Dictionary<string, byte[]>();
        foreach (var size in sizes)
        {
            var path = "/disk-fast/" + Guid.NewGuid().ToString("N");
            var body = new byte[size];
            new Random(size).NextBytes(body);
            bodies[path] = body;
            cdn.Origin.Map(path, ctx =>
            {
                ctx.Response.Headers.CacheControl = "max-age=3600";
                ctx.Response.ContentLength = body.Length;
                return ctx.Response.Body.WriteAsync(body).AsTask();
            });
            await cdn.PutOnDiskAsync(path);
        }

        var paths = bodies.Keys.ToArray();
        var before = await cdn.Edges[0].FastHitsAsync();
        await Parallel.ForEachAsync(Enumerable.Range(0, 8), async (worker, _) =>
        {
            var order = Enumerable.Range(0, 6 * paths.Length).Select(i => paths[(i + worker) % paths.Length]).ToArray();
            var requests = string.Concat(order.Select(p => RawHttp.Get(p)));
            var responses = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), requests, [.. order.Select(_ => false)]);
            for (var i = 0; i < order.Length; i++)
            {
                Assert.Contains("detail=disk", responses[i].Header("Cache-Status"), StringComparison.Ordinal);
                Assert.Equal(bodies[order[i]], responses[i].Body);
            }
        });

        Assert.Equal(before + (8 * 6 * paths.Length), await cdn.Edges[0].FastHitsAsync());
        Assert.All(paths, p => Assert.Equal(1, cdn.Origin.Count(p)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_object_memory_takes_is_promoted_by_its_second_disk_hit_and_is_then_a_memory_hit(bool fullPath)
    {
        // Disk:PromoteOnHit 2 (the default): once seen, then promoted, as Traffic Server's seen filter does.
        var path = MapObject(20 * 1024);
        await cdn.PutOnDiskAsync(path);
        cdn.EdgeEngine(0).Memory.Update(static _ => true, static _ => null); // now only the disk holds it

        var extra = fullPath ? FastHitTests.FullPathField : "";
        var responses = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path, extra) + RawHttp.Get(path, extra) + RawHttp.Get(path, extra), [false, false, false]);
        Assert.Contains("detail=disk", responses[0].Header("Cache-Status"), StringComparison.Ordinal);
        Assert.Contains("detail=disk", responses[1].Header("Cache-Status"), StringComparison.Ordinal);
        Assert.Contains("detail=memory", responses[2].Header("Cache-Status"), StringComparison.Ordinal);
        Assert.All(responses, r => Assert.Equal(FastHitTests.Body(20 * 1024), r.Body));
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task A_miss_the_fast_path_looked_up_on_disk_is_fetched_once_by_the_full_path()
    {
        var path = MapObject(100 * 1024);
        var responses = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path), [false]);
        Assert.Contains("fwd=uri-miss", responses[0].Header("Cache-Status"), StringComparison.Ordinal);
        Assert.Equal(FastHitTests.Body(100 * 1024), responses[0].Body);
        Assert.Equal(1, cdn.Origin.Count(path));
    }
}
