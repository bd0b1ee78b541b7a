using System.Net;
using EdgeCache.FunctionalTests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// One shield and one edge, each with a memory tier far smaller than the catalogue and a disk tier
/// that holds all of it, as an image CDN runs: what a burst of new objects stores must be there the
/// second time. <see cref="WriteQueueBytes"/> sets both nodes' <c>Disk:WriteQueueBytes</c>.
/// </summary>
public abstract class CatalogueTopology : Topology
{
    public string DataRoot { get; } = Path.Combine(Path.GetTempPath(), "edgecache-cat-" + Guid.NewGuid().ToString("N"));

    protected CatalogueTopology() : base(shields: 1, edges: 1)
    {
    }

    /// <summary>Both nodes' <c>Disk:WriteQueueBytes</c>; null for the default.</summary>
    protected abstract long? WriteQueueBytes { get; }

    public WebApplication Shield => Shields[0];

    public WebApplication Edge => Edges[0];

    private Dictionary<string, string?> WithDisk(Dictionary<string, string?> c, string id)
    {
        static string N(long v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);
        c["EdgeCache:MemoryBudgetBytes"] = N(4L * 1024 * 1024);
        c["EdgeCache:MaxObjectBytes"] = N(1024 * 1024);
        c["EdgeCache:Disk:Directory"] = Path.Combine(DataRoot, id);
        c["EdgeCache:Disk:BudgetBytes"] = N(512L * 1024 * 1024);
        c["EdgeCache:Disk:LogMemoryBytes"] = N(16L * 1024 * 1024);
        c["EdgeCache:Disk:IndexBytes"] = N(1L * 1024 * 1024);
        c["EdgeCache:Disk:MaxObjectBytes"] = N(16L * 1024 * 1024);
        if (WriteQueueBytes is { } q) c["EdgeCache:Disk:WriteQueueBytes"] = N(q);

        // A write that must wait for room in a full queue holds its response: on a loaded CI machine that
        // took longer than the topology's 5 s response timeout (a 504). These tests are about what is
        // stored and fetched, not how fast.
        c["EdgeCache:Defaults:ResponseTimeout"] = "00:00:30";
        return c;
    }

    protected override Dictionary<string, string?> ShieldConfig(string id) => WithDisk(base.ShieldConfig(id), id);

    protected override Dictionary<string, string?> EdgeConfig(string id) => WithDisk(base.EdgeConfig(id), id);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(DataRoot)) Directory.Delete(DataRoot, recursive: true);
    }

    /// <summary>
    /// Maps <paramref name="count"/> objects of <paramref name="size"/> bytes under <paramref name="prefix"/>,
    /// each with its own bytes, and returns them.
    /// </summary>
    public byte[][] MapCatalogue(string prefix, int count, int size)
    {
        var bodies = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            var body = bodies[i] = new byte[size];
            new Random(i).NextBytes(body);
            Origin.Map($"{prefix}/{i}", ctx =>
            {
                ctx.Response.Headers.CacheControl = "max-age=3600";
                ctx.Response.ContentLength = body.Length;
                return ctx.Response.Body.WriteAsync(body).AsTask();
            });
        }

        return bodies;
    }

    /// <summary>
    /// Fetches every object once through the edge, <paramref name="clients"/> at a time (each on its own
    /// connection), checks every body byte for byte, and returns how many the edge answered itself.
    /// </summary>
    public async Task<int> PassAsync(string prefix, byte[][] bodies, int clients)
    {
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = clients }) { Timeout = TimeSpan.FromSeconds(60) };
        var next = -1;
        var edgeHits = 0;
        var edge = EdgeUri(0);
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < bodies.Length)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(edge, $"{prefix}/{i}"));
                request.Headers.Host = Site;
                using var response = await client.SendAsync(request);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var got = await response.Content.ReadAsByteArrayAsync();
                Assert.True(bodies[i].AsSpan().SequenceEqual(got), $"{prefix}/{i}: the body is not the origin's");
                if (response.Headers.TryGetValues("Cache-Status", out var status) && string.Join(", ", status).Contains("EdgeCache-Edge; hit", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref edgeHits);
                }
            }
        }));
        return edgeHits;
    }

    /// <summary>Waits for both nodes' queued disk writes (no report says when a background write is done).</summary>
    public async Task FlushAsync()
    {
        await Shield.Services.GetRequiredService<EdgeCache.Proxy.CacheEngine>().FlushDiskWritesAsync();
        await EdgeEngine(0).FlushDiskWritesAsync();
    }
}

/// <summary>The default write queue (<c>Disk:WriteQueueBytes</c> 64 MiB).</summary>
public sealed class DefaultQueueCatalogue : CatalogueTopology
{
    protected override long? WriteQueueBytes => null;
}

/// <summary>A write queue of 1 MiB, the least allowed: a burst fills it at once.</summary>
public sealed class TinyQueueCatalogue : CatalogueTopology
{
    protected override long? WriteQueueBytes => 1024 * 1024;
}

/// <summary>
/// Issue 23: under a burst of new objects a disk write waits (a queue bounded in bytes) instead of
/// being dropped; when it must drop, it drops only where another copy exists; a second pass over
/// a set that fits the disk reaches the origin 0 times and is answered by the edge itself.
/// </summary>
public sealed class LargeCatalogueTests(DefaultQueueCatalogue cdn, ITestOutputHelper output) : IClassFixture<DefaultQueueCatalogue>
{
    [Fact]
    public async Task A_burst_of_new_objects_is_all_on_the_edge_the_second_time_and_never_again_at_the_origin()
    {
        // 1,200 objects of 64 KiB (75 MiB), 32 clients at once: the memory tiers (4 MiB) hold almost none.
        var bodies = cdn.MapCatalogue("/catalogue", 1200, 64 * 1024);
        Assert.Equal(0, await cdn.PassAsync("/catalogue", bodies, clients: 32));
        Assert.Equal(bodies.Length, cdn.Origin.TotalRequests);
        await cdn.FlushAsync();

        var edgeHits = await cdn.PassAsync("/catalogue", bodies, clients: 32);
        output.WriteLine($"second pass: {edgeHits} of {bodies.Length} answered by the edge; origin requests {cdn.Origin.TotalRequests - bodies.Length}; " +
            $"edge dropped {cdn.Edge.Metric("edgecache.disk.writes.dropped")}, delayed {cdn.Edge.Metric("edgecache.disk.writes.delayed")}; " +
            $"shield dropped {cdn.Shield.Metric("edgecache.disk.writes.dropped")}, delayed {cdn.Shield.Metric("edgecache.disk.writes.delayed")}");
        Assert.Equal(bodies.Length, cdn.Origin.TotalRequests);
        Assert.Equal(bodies.Length, edgeHits);
        Assert.Equal(0, cdn.Edge.Metric("edgecache.disk.writes.dropped"));
        Assert.Equal(0, cdn.Shield.Metric("edgecache.disk.writes.dropped"));
        Assert.Equal(0, cdn.Edge.Metric("edgecache.disk.writes.queued"));
    }
}

/// <summary>With a write queue too small for the burst, the edge may drop (its shield has the object); the shield never does.</summary>
public sealed class FullWriteQueueTests(TinyQueueCatalogue cdn, ITestOutputHelper output) : IClassFixture<TinyQueueCatalogue>
{
    [Fact]
    public async Task The_shield_delays_and_never_drops_and_the_origin_is_never_asked_twice()
    {
        var bodies = cdn.MapCatalogue("/burst", 600, 256 * 1024);
        await cdn.PassAsync("/burst", bodies, clients: 32);
        await cdn.FlushAsync();
        var edgeDropped = cdn.Edge.Metric("edgecache.disk.writes.dropped");
        output.WriteLine($"edge dropped {edgeDropped}, delayed {cdn.Edge.Metric("edgecache.disk.writes.delayed")}; " +
            $"shield dropped {cdn.Shield.Metric("edgecache.disk.writes.dropped")}, delayed {cdn.Shield.Metric("edgecache.disk.writes.delayed")}");

        // The shield's copy is the last: its writes wait for room, so none is lost.
        Assert.Equal(0, cdn.Shield.Metric("edgecache.disk.writes.dropped"));
        Assert.Equal(0, cdn.Shield.Metric("edgecache.disk.writes.queued"));

        // Whatever the edge dropped, the shield has: the second pass never reaches the origin, and
        // the edge answers itself for all but what it dropped.
        var edgeHits = await cdn.PassAsync("/burst", bodies, clients: 32);
        Assert.Equal(bodies.Length, cdn.Origin.TotalRequests);
        Assert.True(edgeHits >= bodies.Length - edgeDropped, $"{edgeHits} edge hits, {edgeDropped} writes dropped at the edge");
    }
}
