using System.Net.Http.Json;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.SamplePublisher;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeCache.FunctionalTests;

/// <summary>The sample publisher app (samples/EdgeCache.SamplePublisher) behind the real CDN: one update clears the
/// CDN's pages (purge by tag with wait, through EdgeCache.Client) and its own HybridCache entry.</summary>
[Collection(InvalidationFixtureGroup.Name)]
public sealed class SamplePublisherTests(InvalidationTopology cdn)
{
    [Fact]
    public async Task An_update_clears_the_product_page_on_every_edge_and_shield_and_the_apps_hybridcache()
    {
        var database = Path.Combine(Path.GetTempPath(), "edgecache-sample-" + Guid.NewGuid().ToString("N") + ".db");
        await using var app = PublisherApp.Build([], builder =>
        {
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["SamplePublisher:Listen"] = "http://127.0.0.1:0",
                ["SamplePublisher:Database"] = database,
                ["EdgeCacheClient:BaseAddress"] = cdn.ApiUri.ToString(),
                ["EdgeCacheClient:ApiKey"] = InvalidationTopology.SiteKey,
            });
            builder.Logging.ClearProviders();
        });
        await app.StartAsync();
        var sample = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

        // The CDN's origin for this path relays to the sample app (the test origin owns the shields' route).
        var path = "/products/2";
        cdn.Origin.Map(path, async ctx =>
        {
            using var r = await cdn.Client.GetAsync(new Uri(sample, path));
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

        using var update = await cdn.Client.PutAsJsonAsync(new Uri(sample, path), new { name = "Milk jug", price = 15.5m });
        var answer = await update.Content.ReadAsStringAsync();
        Assert.True(update.IsSuccessStatusCode, answer);
        Assert.Contains("\"complete\":true", answer, StringComparison.Ordinal);

        for (var i = 0; i < 2; i++)
        {
            using var after = await cdn.GetAsync(i, path);
            Assert.Contains("Price: 15.50", await after.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // One more origin fetch for the new page, and it read the database: the HybridCache entry was removed too.
        Assert.Equal(2, cdn.Origin.Count(path));
        using var direct = await cdn.Client.GetAsync(new Uri(sample, path));
        Assert.Equal("hybridcache", direct.Headers.GetValues(PublisherApp.LookupHeader).Single());
        Assert.Contains("Price: 15.50", await direct.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        await app.StopAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        File.Delete(database);
    }
}
