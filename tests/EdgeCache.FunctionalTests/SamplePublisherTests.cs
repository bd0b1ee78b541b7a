using System.Globalization;
using System.Net.Http.Json;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.SampleL2;
using EdgeCache.SamplePublisher;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeCache.FunctionalTests;

/// <summary>The sample publisher app (samples/EdgeCache.SamplePublisher) behind the real CDN, as up.sh runs it: two
/// instances sharing a real Garnet server as HybridCache's L2, with the EdgeCache backplane. One update on one
/// instance clears the CDN's pages (every edge and shield) and both instances' HybridCache, and its wait covers
/// both instances.</summary>
[Collection(InvalidationFixtureGroup.Name)]
public sealed class SamplePublisherTests(InvalidationTopology cdn)
{
    [Fact]
    public async Task An_update_on_one_instance_clears_the_page_on_every_node_and_both_instances_hybridcache()
    {
        var l2Port = NodeProcess.FreePort();
        using var garnet = GarnetL2.Start(["--bind", "127.0.0.1", "--port", l2Port.ToString(CultureInfo.InvariantCulture), "--memory", "64m", "--page", "1m", "--index", "1m"]);
        var database = Path.Combine(Path.GetTempPath(), "edgecache-sample-" + Guid.NewGuid().ToString("N") + ".db");
        await using var a = await StartAsync(database, l2Port, "sample-a");
        await using var b = await StartAsync(database, l2Port, "sample-b");

        // The CDN's origin for this path relays to instance A (the test origin owns the shields' route).
        var path = "/products/2";
        cdn.Origin.Map(path, async ctx =>
        {
            using var r = await cdn.Client.GetAsync(new Uri(a.Uri, path));
            ctx.Response.StatusCode = (int)r.StatusCode;
            foreach (var name in new[] { "Cache-Control", PublisherApp.SurrogateKey, PublisherApp.LookupHeader })
            {
                if (r.Headers.TryGetValues(name, out var v)) ctx.Response.Headers[name] = v.ToArray();
            }

            ctx.Response.ContentType = r.Content.Headers.ContentType?.ToString();
            await ctx.Response.WriteAsync(await r.Content.ReadAsStringAsync());
        });

        for (var i = 0; i < 2; i++)
        {
            using var before = await cdn.GetAsync(i, path);
            Assert.Contains("Price: 14.00", await before.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.False(before.Headers.Contains(PublisherApp.SurrogateKey), "edges strip surrogate keys");
        }

        Assert.Equal(1, cdn.Origin.Count(path));

        // B never read the database for it: A's lookup is in the shared L2. Read again, and B has it in L1.
        Assert.Equal(("hybridcache", "Price: 14.00"), await LookupAsync(b, path));
        Assert.Equal(("hybridcache", "Price: 14.00"), await LookupAsync(b, path));

        using var update = await cdn.Client.PutAsJsonAsync(new Uri(a.Uri, path), new { name = "Milk jug", price = 15.5m });
        var answer = await update.Content.ReadAsStringAsync();
        Assert.True(update.IsSuccessStatusCode, answer);
        Assert.Contains("\"complete\":true", answer, StringComparison.Ordinal);
        Assert.Contains("\"instances\":2", answer, StringComparison.Ordinal); // the wait covered A and B

        for (var i = 0; i < 2; i++)
        {
            using var after = await cdn.GetAsync(i, path);
            Assert.Contains("Price: 15.50", await after.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // One more origin fetch for the new page. B's L1 entry is gone (the backplane) and the L2's is no
        // longer taken (HybridCache's tag removal): B answers the new price.
        Assert.Equal(2, cdn.Origin.Count(path));
        Assert.Equal("Price: 15.50", (await LookupAsync(b, path)).Body);
        Assert.Equal(("hybridcache", "Price: 15.50"), await LookupAsync(a, path));

        await a.DisposeAsync();
        await b.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        File.Delete(database);
    }

    private async Task<(string Lookup, string Body)> LookupAsync(SampleInstance instance, string path)
    {
        using var r = await cdn.Client.GetAsync(new Uri(instance.Uri, path));
        var body = await r.Content.ReadAsStringAsync();
        var price = body.Split('\n').Single(l => l.StartsWith("<p>Price", StringComparison.Ordinal))[3..^4];
        return (r.Headers.GetValues(PublisherApp.LookupHeader).Single(), price);
    }

    private async Task<SampleInstance> StartAsync(string database, int l2Port, string instanceId)
    {
        var app = PublisherApp.Build([], builder =>
        {
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["SamplePublisher:Listen"] = "http://127.0.0.1:0",
                ["SamplePublisher:Database"] = database,
                ["SamplePublisher:L2"] = "127.0.0.1:" + l2Port.ToString(CultureInfo.InvariantCulture),
                ["EdgeCacheClient:BaseAddress"] = cdn.ApiUri.ToString(),
                ["EdgeCacheClient:ApiKey"] = InvalidationTopology.SiteKey,
                ["EdgeCacheInvalidation:InstanceId"] = instanceId,
                ["EdgeCacheInvalidation:PollTimeout"] = "00:00:01",
                ["EdgeCacheInvalidation:RetryDelay"] = "00:00:00.1",
                ["EdgeCacheInvalidation:MaxRetryDelay"] = "00:00:00.2",
            });
            builder.Logging.ClearProviders();
        });
        await app.StartAsync();
        var instance = new SampleInstance(app, new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()));

        // Registered with the API (its first poll), so a purge's wait covers it.
        var backplane = app.Services.GetRequiredService<EdgeCache.Client.EdgeCacheInvalidation>();
        await Topology.WaitUntilAsync(() => backplane.IsConfirmed, TimeSpan.FromSeconds(30), $"{instanceId} confirmed by the event feed");
        return instance;
    }

    private sealed class SampleInstance(WebApplication app, Uri uri) : IAsyncDisposable
    {
        private int _disposed;

        public Uri Uri => uri;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
