using System.Diagnostics;
using System.Text.Json;
using EdgeCache.Client;
using EdgeCache.FunctionalTests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests;

/// <summary><c>POST /warm</c> and refresh against the real purge API, nats-server, shields and edges: what the
/// origin counts and what clients are served.</summary>
[Collection(InvalidationFixtureGroup.Name)]
public sealed class WarmTests(InvalidationTopology cdn)
{
    private static string Url(string path) => "http://" + Topology.Site + path;

    private static string CacheStatus(HttpResponseMessage r) => string.Join(", ", r.Headers.TryGetValues("Cache-Status", out var v) ? v : []);

    private static string ShieldOf(HttpResponseMessage r) => r.Headers.Via.Select(v => v.ReceivedBy).First(n => n.StartsWith("shield-", StringComparison.Ordinal));

    [Fact]
    public async Task Concurrent_warms_of_one_url_fetch_it_once_into_the_shield_the_edges_hash_it_to_and_its_first_hit_says_warmed()
    {
        var path = "/warm/once-" + Guid.NewGuid().ToString("N");
        cdn.Origin.Map(path, async ctx =>
        {
            // A slow origin, so the calls overlap on the shield.
            await Task.Delay(300);
            ctx.Response.Headers.CacheControl = "max-age=600";
            await ctx.Response.WriteAsync("warmed body");
        });

        var calls = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => cdn.PostAsync("/warm", $$"""{"urls":["{{Url(path)}}"]}""")));

        Assert.All(calls, c => Assert.Equal(200, c.Status));
        var results = calls.Select(c => c.Body.GetProperty("results")[0]).ToArray();
        Assert.All(results, r => Assert.Equal("warmed", r.GetProperty("outcome").GetString()));
        Assert.Equal(1, cdn.Origin.Count(path));

        // The first client request, through either edge, goes to the shield the warm went to and is its first hit there.
        using var first = await cdn.GetAsync(1, path);
        Assert.Equal("warmed body", await first.Content.ReadAsStringAsync());
        Assert.Contains("EdgeCache-Shield; hit; ttl=", CacheStatus(first), StringComparison.Ordinal);
        Assert.Contains("detail=warmed", CacheStatus(first), StringComparison.Ordinal);
        Assert.All(results, r => Assert.Contains(ShieldOf(first), r.GetProperty("via").GetString(), StringComparison.Ordinal));

        using var second = await cdn.GetAsync(0, path);
        Assert.Contains("EdgeCache-Shield; hit;", CacheStatus(second), StringComparison.Ordinal);
        Assert.DoesNotContain("warmed", CacheStatus(second), StringComparison.Ordinal);
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task With_edges_every_edge_holds_the_url_and_answers_its_first_request_as_a_warmed_hit()
    {
        var path = "/warm/edges-" + Guid.NewGuid().ToString("N");
        cdn.Origin.MapStatic(path, "on every edge", ("Cache-Control", "max-age=600"));

        var (status, body, _) = await cdn.PostAsync("/warm", $$"""{"urls":["{{Url(path)}}"],"edges":true}""");

        Assert.Equal(200, status);
        var edges = body.GetProperty("results")[0].GetProperty("edges").EnumerateArray().ToArray();
        Assert.Equal(["edge-1", "edge-2"], edges.Select(e => e.GetProperty("node").GetString()).Order());
        Assert.All(edges, e => Assert.Equal("warmed", e.GetProperty("outcome").GetString()));
        for (var i = 0; i < 2; i++)
        {
            using var r = await cdn.GetAsync(i, path);
            Assert.EndsWith("EdgeCache-Edge; hit; ttl=" + CacheStatus(r).Split("EdgeCache-Edge; hit; ttl=")[^1].Split(';')[0] + "; detail=warmed", CacheStatus(r), StringComparison.Ordinal);
        }

        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task A_url_the_origin_does_not_let_be_stored_is_reported_failed_with_its_status()
    {
        var path = "/warm/private-" + Guid.NewGuid().ToString("N");
        cdn.Origin.MapStatic(path, "mine", ("Cache-Control", "private"));
        var missing = "/warm/missing-" + Guid.NewGuid().ToString("N");
        cdn.Origin.Map(missing, ctx =>
        {
            ctx.Response.StatusCode = 404;
            return Task.CompletedTask;
        });

        var (status, body, type) = await cdn.PostAsync("/warm", $$"""{"urls":["{{Url(path)}}","{{Url(missing)}}"]}""");

        Assert.Equal((200, "application/json"), (status, type));
        Assert.Equal((0, 2), (body.GetProperty("warmed").GetInt32(), body.GetProperty("failed").GetInt32()));
        var results = body.GetProperty("results").EnumerateArray().ToArray();
        Assert.All(results, r => Assert.Equal("failed", r.GetProperty("outcome").GetString()));
        Assert.Equal([200, 404], results.Select(r => r.GetProperty("status").GetInt32()));
        Assert.All(results, r => Assert.Contains("did not store", r.GetProperty("reason").GetString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Hosts_outside_the_keys_scope_are_refused_with_403_and_nothing_is_fetched()
    {
        var path = "/warm/scope-" + Guid.NewGuid().ToString("N");
        cdn.Origin.MapStatic(path, "img", ("Cache-Control", "max-age=600"));

        var (status, body, type) = await cdn.PostAsync("/warm", $$"""{"urls":["{{Url(path)}}","http://img.example.com{{path}}"]}""", InvalidationTopology.SiteKey);

        Assert.Equal((403, "application/problem+json"), (status, type));
        Assert.Contains("img.example.com", body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Too_many_urls_is_413_bad_input_is_400_and_a_key_past_its_url_rate_gets_429_all_as_problems()
    {
        var eleven = string.Join(",", Enumerable.Range(0, 11).Select(i => $"\"{Url("/warm/many-" + i)}\""));
        var tooMany = await cdn.PostAsync("/warm", $$"""{"urls":[{{eleven}}]}""");
        Assert.Equal((413, "application/problem+json"), (tooMany.Status, tooMany.ContentType));
        Assert.Contains("at most 10", tooMany.Body.GetProperty("detail").GetString(), StringComparison.Ordinal);

        foreach (var bad in new[] { "{\"urls\":[]}", "{\"urls\":[\"ftp://www.example.com/x\"]}", "{\"urls\":[\"/relative\"]}", "{\"url\":\"x\"}", "{\"urls\":[\"http://www.example.com/\"],\"wait\":true}", "[1," })
        {
            var (status, _, type) = await cdn.PostAsync("/warm", bad);
            Assert.True((status, type) == (400, "application/problem+json"), $"{bad}: {status} {type}");
        }

        // The limited key may warm img.example.com: bursts of 40 URLs, 1 a second back. Ten-URL calls run out within six.
        var ten = string.Join(",", Enumerable.Range(0, 10).Select(i => $"\"http://img.example.com/warm/rate-{i}\""));
        (int Status, JsonElement Body, string? ContentType) last = default;
        for (var i = 0; i < 6 && last.Status != 429; i++) last = await cdn.PostAsync("/warm", $$"""{"urls":[{{ten}}]}""", InvalidationTopology.LimitedKey);
        Assert.Equal((429, "application/problem+json"), (last.Status, last.ContentType));
        Assert.Contains("URLs per second", last.Body.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task After_a_refresh_returns_no_reader_is_served_the_old_page_and_no_reader_sent_a_request_to_the_origin()
    {
        var path = "/warm/refresh-" + Guid.NewGuid().ToString("N");
        var version = "v1";
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            return ctx.Response.WriteAsync("page " + Volatile.Read(ref version));
        });

        // The old page on the owning shield and on both edges.
        for (var i = 0; i < 2; i++)
        {
            using var r = await cdn.GetAsync(i, path);
            Assert.Equal("page v1", await r.Content.ReadAsStringAsync());
        }

        // A reader throughout, on both edges, each read dated by when it started.
        var reads = new System.Collections.Concurrent.ConcurrentQueue<(long Started, string Body)>();
        long returned = long.MaxValue;
        var readsAfter = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var reader = Task.Run(async () =>
        {
            for (var n = 0; Volatile.Read(ref readsAfter) < 40 && !stop.IsCancellationRequested; n++)
            {
                var started = Stopwatch.GetTimestamp();
                using var r = await cdn.GetAsync(n % 2, path);
                reads.Enqueue((started, await r.Content.ReadAsStringAsync()));
                if (started > Volatile.Read(ref returned)) Interlocked.Increment(ref readsAfter);
            }
        });

        await Topology.WaitUntilAsync(() => reads.Count >= 10, because: "the reader is reading");
        Volatile.Write(ref version, "v2");
        var (status, body, _) = await cdn.PostAsync("/warm", $$"""{"urls":["{{Url(path)}}"],"refresh":true,"wait":true,"timeoutMs":10000}""");
        Volatile.Write(ref returned, Stopwatch.GetTimestamp());
        await reader;

        Assert.Equal(200, status);
        Assert.Equal("warmed", body.GetProperty("results")[0].GetProperty("outcome").GetString());
        Assert.Equal("stored", body.GetProperty("results")[0].GetProperty("cache").GetString());
        Assert.True(body.GetProperty("purge").GetProperty("complete").GetBoolean(), body.ToString());
        var after = reads.Where(r => r.Started > returned).ToArray();
        Assert.True(after.Length >= 40, $"{after.Length} reads after the refresh");
        Assert.All(after, r => Assert.Equal("page v2", r.Body));

        // The first fetch and the refresh's: every reader was answered from a cache.
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task A_clients_warming_fields_without_the_tier_secret_change_nothing_and_never_reach_the_shield()
    {
        var path = "/warm/spoof-" + Guid.NewGuid().ToString("N");
        var version = "v1";
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            return ctx.Response.WriteAsync("page " + Volatile.Read(ref version));
        });
        using (var first = await cdn.GetAsync(0, path))
        {
            Assert.Equal("page v1", await first.Content.ReadAsStringAsync());
        }

        Volatile.Write(ref version, "v2");
        foreach (var (mode, secret) in new[] { ("refresh", (string?)null), ("refresh", "not-the-tier-secret-0123456789"), ("shield", null) })
        {
            using var r = await cdn.GetAsync(0, path, configure: m =>
            {
                m.Headers.TryAddWithoutValidation("EdgeCache-Warm", mode);
                m.Headers.TryAddWithoutValidation("EdgeCache-Copy", "0123456789abcdef");
                if (secret is not null) m.Headers.TryAddWithoutValidation("EdgeCache-Tier-Auth", secret);
            });
            Assert.Equal("page v1", await r.Content.ReadAsStringAsync());
            Assert.Contains("EdgeCache-Edge; hit;", CacheStatus(r), StringComparison.Ordinal);
            Assert.False(r.Headers.Contains("EdgeCache-Copy"));
        }

        Assert.Equal(1, cdn.Origin.Count(path));
        Assert.All(cdn.Origin.Requests(path), o => Assert.DoesNotContain(o.Headers.Keys, k => k.StartsWith("EdgeCache-", StringComparison.OrdinalIgnoreCase)));
    }

    [Fact]
    public async Task The_client_warms_and_refreshes_through_the_real_api()
    {
        var path = "/warm/client-" + Guid.NewGuid().ToString("N");
        var version = "v1";
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            return ctx.Response.WriteAsync("page " + Volatile.Read(ref version));
        });
        var services = new ServiceCollection();
        services.AddEdgeCacheClient(o =>
        {
            o.BaseAddress = cdn.ApiUri;
            o.ApiKey = InvalidationTopology.SiteKey;
        });
        var client = services.BuildServiceProvider().GetRequiredService<EdgeCache.Client.EdgeCacheClient>();
        var url = new Uri(Url(path));

        var warmed = await client.WarmAsync([url]);
        using (var r = await cdn.GetAsync(0, path))
        {
            Assert.Equal("page v1", await r.Content.ReadAsStringAsync());
        }

        Volatile.Write(ref version, "v2");
        var refreshed = await client.RefreshAsync([url], new EdgeCache.Client.RefreshOptions { WaitTimeout = TimeSpan.FromSeconds(10) });
        var forbidden = await Assert.ThrowsAsync<EdgeCache.Client.EdgeCacheForbiddenException>(() => client.WarmAsync([new Uri("http://img.example.com" + path)]));

        Assert.True(warmed.AllWarmed);
        Assert.Equal("stored", warmed.Urls.Single().Cache);
        Assert.True(refreshed.AllWarmed);
        Assert.True(refreshed.Purge!.Complete);
        for (var i = 0; i < 2; i++)
        {
            using var r = await cdn.GetAsync(i, path);
            Assert.Equal("page v2", await r.Content.ReadAsStringAsync());
        }

        Assert.Equal(403, forbidden.Problem?.Status);
        Assert.Equal(2, cdn.Origin.Count(path));
    }
}
