using System.Net;
using EdgeCache.FunctionalTests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests;

/// <summary>The cache path end to end: edge → consistent-hashed shield → origin.</summary>
[Collection(CdnFixtureGroup.Name)]
public sealed class CachePathTests(Topology cdn)
{
    private static string NewPath() => "/t/" + Guid.NewGuid().ToString("N");

    [Fact]
    public async Task Second_request_is_an_edge_hit_and_the_origin_saw_one_request()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "hello world", ("Cache-Control", "max-age=60"));

        using var first = await cdn.GetAsync(0, path);
        using var second = await cdn.GetAsync(0, path);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("hello world", await first.BodyAsync());
        Assert.Contains("fwd=uri-miss", first.EdgeStatus(), StringComparison.Ordinal);
        Assert.Contains("stored", first.EdgeStatus(), StringComparison.Ordinal);
        Assert.Equal("hello world", await second.BodyAsync());
        Assert.StartsWith("EdgeCache-Edge; hit", second.EdgeStatus(), StringComparison.Ordinal);
        Assert.Contains("detail=memory", second.EdgeStatus(), StringComparison.Ordinal);
        Assert.Equal("", second.ShieldStatus());
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task A_client_that_has_read_a_whole_miss_finds_the_copy_at_once_from_a_new_connection()
    {
        // The miss's last byte waits until the copy is in memory: otherwise a client asking again
        // on another connection could race the store and be sent upstream (a CI run saw it).
        for (var i = 0; i < 25; i++)
        {
            var path = NewPath();
            cdn.Origin.MapStatic(path, "x" + i, ("Cache-Control", "max-age=60"));

            var miss = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path), [false]))[0];
            var again = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path, FastHitTests.FullPathField), [false]))[0];

            Assert.Equal("x" + i, System.Text.Encoding.ASCII.GetString(miss.Body));
            Assert.StartsWith("EdgeCache-Edge; hit", again.Header("Cache-Status"), StringComparison.Ordinal);
            Assert.Equal(1, cdn.Origin.Count(path));
        }
    }

    [Fact]
    public async Task The_other_edge_gets_the_object_from_the_shield_and_the_origin_still_saw_one()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "shared", ("Cache-Control", "max-age=60"));

        using var viaEdge1 = await cdn.GetAsync(0, path);
        using var viaEdge2 = await cdn.GetAsync(1, path);

        Assert.Equal("shared", await viaEdge2.BodyAsync());
        Assert.StartsWith("EdgeCache-Shield; hit", viaEdge2.ShieldStatus(), StringComparison.Ordinal);
        Assert.Contains("fwd=uri-miss", viaEdge2.EdgeStatus(), StringComparison.Ordinal);
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Two_hundred_concurrent_misses_across_both_edges_reach_the_origin_once()
    {
        var path = NewPath();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cdn.Origin.Map(path, async ctx =>
        {
            await release.Task.WaitAsync(TimeSpan.FromSeconds(20));
            ctx.Response.Headers.CacheControl = "max-age=60";
            await ctx.Response.WriteAsync("collapsed body");
        });

        long Collapsed() => cdn.Edges[0].Metric("edgecache.requests.collapsed") + cdn.Edges[1].Metric("edgecache.requests.collapsed");
        var before = Collapsed();
        var requests = Enumerable.Range(0, 200).Select(i => cdn.GetAsync(i % 2, path)).ToArray();

        // Every request is waiting on a fetch before the origin answers: at each edge one leads the
        // fetch and the other 99 joined it.
        await Topology.WaitUntilAsync(() => Collapsed() - before >= 198, because: "all 200 requests joined a fetch");
        release.SetResult();
        var responses = await Task.WhenAll(requests);

        foreach (var r in responses)
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("collapsed body", await r.BodyAsync());
            r.Dispose();
        }

        Assert.Equal(1, cdn.Origin.Count(path));
        Assert.Equal(198, responses.Count(r => r.EdgeStatus().Contains("collapsed", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("no-store, max-age=60")]
    [InlineData("private, max-age=60")]
    public async Task No_store_and_private_responses_are_not_stored(string cacheControl)
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "secret", ("Cache-Control", cacheControl));

        using var first = await cdn.GetAsync(0, path);
        using var second = await cdn.GetAsync(0, path);

        Assert.Equal("secret", await second.BodyAsync());
        Assert.DoesNotContain("stored", second.EdgeStatus(), StringComparison.Ordinal);
        Assert.DoesNotContain("hit", second.EdgeStatus(), StringComparison.Ordinal);
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Responses_with_Set_Cookie_are_not_stored_by_default()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "with cookie", ("Cache-Control", "max-age=60"), ("Set-Cookie", "session=abc"));

        using var first = await cdn.GetAsync(0, path);
        using var second = await cdn.GetAsync(0, path);

        Assert.Equal("session=abc", second.Header("Set-Cookie"));
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task A_Set_Cookie_that_comes_with_a_304_goes_to_its_requester_only_and_is_never_served_from_cache()
    {
        // The stored copy has no cookie; the revalidation's 304 sets one. Freshened with it (RFC 9111
        // §4.3.4), the copy would replay that client's cookie to everyone on later hits.
        var path = NewPath();
        var sessions = 0;
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=60";
            ctx.Response.Headers.ETag = "\"v1\"";
            if (ctx.Request.Headers.IfNoneMatch == "\"v1\"")
            {
                ctx.Response.StatusCode = 304;
                ctx.Response.Headers.SetCookie = "session=" + Interlocked.Increment(ref sessions);
                return Task.CompletedTask;
            }

            return ctx.Response.WriteAsync("page");
        });

        using var first = await cdn.GetAsync(0, path);
        Assert.Equal("", first.Header("Set-Cookie"));
        cdn.Clock.Advance(TimeSpan.FromSeconds(61));
        using var revalidated = await cdn.GetAsync(0, path);
        Assert.Equal("page", await revalidated.BodyAsync());
        Assert.Equal("session=1", revalidated.Header("Set-Cookie"));

        using var next = await cdn.GetAsync(0, path);
        using var otherEdge = await cdn.GetAsync(1, path);
        Assert.Equal("page", await next.BodyAsync());
        Assert.NotEqual("session=1", next.Header("Set-Cookie"));
        Assert.NotEqual("session=1", otherEdge.Header("Set-Cookie"));
        Assert.Equal(4, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Set_Cookie_responses_are_stored_where_the_host_allows_it()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "with cookie", ("Cache-Control", "max-age=60"), ("Set-Cookie", "theme=dark"));

        using var first = await cdn.GetAsync(0, path, Topology.CookieSite);
        using var second = await cdn.GetAsync(0, path, Topology.CookieSite);

        Assert.StartsWith("EdgeCache-Edge; hit", second.EdgeStatus(), StringComparison.Ordinal);
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Revalidation_with_an_ETag_is_a_304_upstream_and_a_200_to_the_client()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=10";
            ctx.Response.Headers.ETag = "\"v1\"";
            if (ctx.Request.Headers.IfNoneMatch == "\"v1\"")
            {
                ctx.Response.StatusCode = 304;
                return Task.CompletedTask;
            }

            return ctx.Response.WriteAsync("versioned body");
        });

        using var first = await cdn.GetAsync(0, path);
        cdn.Clock.Advance(TimeSpan.FromSeconds(11));
        using var second = await cdn.GetAsync(0, path);

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("versioned body", await second.BodyAsync());
        Assert.Contains("fwd=stale", second.EdgeStatus(), StringComparison.Ordinal);
        Assert.Contains("fwd-status=304", second.EdgeStatus(), StringComparison.Ordinal);
        var seen = cdn.Origin.Requests(path);
        Assert.Equal(2, seen.Count);
        Assert.Equal("\"v1\"", seen[1].Headers["If-None-Match"]);

        // Freshened: the next request is a hit again.
        using var third = await cdn.GetAsync(0, path);
        Assert.StartsWith("EdgeCache-Edge; hit", third.EdgeStatus(), StringComparison.Ordinal);
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Stale_while_revalidate_serves_stale_at_once_and_refreshes_once_in_the_background()
    {
        var path = NewPath();
        var version = 1;
        var revalidation = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cdn.Origin.Map(path, async ctx =>
        {
            var v = Volatile.Read(ref version);
            if (v > 1) await revalidation.Task.WaitAsync(TimeSpan.FromSeconds(20));
            ctx.Response.Headers.CacheControl = "max-age=10, stale-while-revalidate=60";
            await ctx.Response.WriteAsync("version " + v);
        });

        using (await cdn.GetAsync(0, path))
        {
        }

        Volatile.Write(ref version, 2);
        cdn.Clock.Advance(TimeSpan.FromSeconds(15));

        // The origin is holding the refresh; clients still get the stale copy immediately.
        using var stale1 = await cdn.GetAsync(0, path);
        using var stale2 = await cdn.GetAsync(0, path);
        Assert.Equal("version 1", await stale1.BodyAsync());
        Assert.Equal("version 1", await stale2.BodyAsync());
        Assert.StartsWith("EdgeCache-Edge; hit", stale1.EdgeStatus(), StringComparison.Ordinal);
        Assert.Contains("stale-while-revalidate", stale1.EdgeStatus(), StringComparison.Ordinal);

        revalidation.SetResult();
        await Topology.WaitUntilAsync(() => cdn.Origin.Count(path) == 2, because: "one background refresh");
        async Task<string> BodyNow()
        {
            using var r = await cdn.GetAsync(0, path);
            return await r.BodyAsync();
        }

        // Until the refresh is stored, clients keep getting the stale copy (and start no other refresh).
        await Topology.WaitUntilAsync(async () => await BodyNow() == "version 2", "the refresh was stored");
        using var fresh = await cdn.GetAsync(0, path);
        Assert.Equal("version 2", await fresh.BodyAsync());
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    /// <summary>Stores "good copy" with <paramref name="cacheControl"/>, then makes the origin answer 503
    /// and moves the clock 30 s on; returns what a client then gets.</summary>
    private async Task<HttpResponseMessage> GetAfterOriginFails(string path, string cacheControl)
    {
        var failing = false;
        cdn.Origin.Map(path, ctx =>
        {
            if (Volatile.Read(ref failing))
            {
                ctx.Response.StatusCode = 503;
                return ctx.Response.WriteAsync("origin down");
            }

            ctx.Response.Headers.CacheControl = cacheControl;
            return ctx.Response.WriteAsync("good copy");
        });

        using (await cdn.GetAsync(0, path))
        {
        }

        Volatile.Write(ref failing, true);
        cdn.Clock.Advance(TimeSpan.FromSeconds(30));
        return await cdn.GetAsync(0, path);
    }

    [Fact]
    public async Task Stale_if_error_serves_the_stored_copy_when_the_origin_fails()
    {
        var path = NewPath();
        using var response = await GetAfterOriginFails(path, "max-age=10, stale-if-error=600");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("good copy", await response.BodyAsync());
        // The shield's stale copy answered (its Cache-Status entry says so); the edge passed it on.
        Assert.Contains("stale-if-error", response.Header("Cache-Status"), StringComparison.Ordinal);
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Without_stale_if_error_an_origin_error_reaches_the_client()
    {
        using var response = await GetAfterOriginFails(NewPath(), "max-age=10");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("origin down", await response.BodyAsync());
    }

    [Fact]
    public async Task Vary_variants_are_kept_apart()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=60";
            ctx.Response.Headers.Vary = "Accept-Language";
            return ctx.Response.WriteAsync("lang=" + ctx.Request.Headers.AcceptLanguage);
        });

        async Task<string> Get(string lang)
        {
            using var r = await cdn.GetAsync(0, path, configure: m => m.Headers.Add("Accept-Language", lang));
            return await r.BodyAsync() + "|" + r.EdgeStatus();
        }

        var en1 = await Get("en");
        var fr1 = await Get("fr");
        var en2 = await Get("en");
        var fr2 = await Get("fr");

        Assert.StartsWith("lang=en|", en1, StringComparison.Ordinal);
        Assert.StartsWith("lang=fr|", fr1, StringComparison.Ordinal);
        Assert.Contains("fwd=vary-miss", fr1, StringComparison.Ordinal);
        Assert.StartsWith("lang=en|EdgeCache-Edge; hit", en2, StringComparison.Ordinal);
        Assert.StartsWith("lang=fr|EdgeCache-Edge; hit", fr2, StringComparison.Ordinal);
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task An_unknown_host_gets_421_and_nothing_reaches_any_origin()
    {
        var before = cdn.Origin.TotalRequests;

        using var edge = await cdn.GetAsync(0, "/anything", host: "evil.example.net");
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(cdn.ShieldUri(0), "/anything"));
        request.Headers.Host = "evil.example.net";
        using var shield = await cdn.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.MisdirectedRequest, edge.StatusCode);
        Assert.Equal(HttpStatusCode.MisdirectedRequest, shield.StatusCode);
        Assert.Contains("serves no site", await edge.BodyAsync(), StringComparison.Ordinal);
        Assert.Equal(before, cdn.Origin.TotalRequests);
    }

    [Fact]
    public async Task Client_no_cache_revalidates_by_default_and_is_ignored_where_the_host_says_so()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "body", ("Cache-Control", "max-age=60"));

        using (await cdn.GetAsync(0, path))
        {
        }

        using var forced = await cdn.GetAsync(0, path, configure: m => m.Headers.CacheControl = new() { NoCache = true });
        Assert.Contains("fwd=request", forced.EdgeStatus(), StringComparison.Ordinal);
        Assert.Equal(2, cdn.Origin.Count(path));

        var ignored = NewPath();
        cdn.Origin.MapStatic(ignored, "body", ("Cache-Control", "max-age=60"));
        using (await cdn.GetAsync(0, ignored, Topology.IgnoreSite))
        {
        }

        using var notForced = await cdn.GetAsync(0, ignored, Topology.IgnoreSite, m => m.Headers.Pragma.ParseAdd("no-cache"));
        Assert.StartsWith("EdgeCache-Edge; hit", notForced.EdgeStatus(), StringComparison.Ordinal);
        Assert.Equal(1, cdn.Origin.Count(ignored));
    }

    [Fact]
    public async Task A_slow_origin_gets_504_within_the_hosts_response_timeout()
    {
        var path = NewPath();
        cdn.Origin.Map(path, async ctx =>
        {
            await Task.Delay(TimeSpan.FromSeconds(10), ctx.RequestAborted);
            await ctx.Response.WriteAsync("too late");
        });

        var started = DateTime.UtcNow;
        using var r = await cdn.GetAsync(0, path, Topology.SlowSite);
        var elapsed = DateTime.UtcNow - started;

        Assert.Equal(HttpStatusCode.GatewayTimeout, r.StatusCode);
        Assert.Contains("did not answer in time", await r.BodyAsync(), StringComparison.Ordinal);
        Assert.True(elapsed < TimeSpan.FromSeconds(5), $"took {elapsed}");
    }

    [Fact]
    public async Task A_slow_origin_is_asked_once_and_leaves_every_shield_healthy()
    {
        // Each request reaches a shield that waits on the origin past the host's ResponseTimeout
        // (300 ms). The edge times out on its shield too; retrying on the next shield would ask the
        // origin again, and counting it against the shield would mark a working shield down (with
        // TransportFailureRate, after 10 requests at 30% failures) and move all its keys.
        var paths = Enumerable.Range(0, 12).Select(_ => NewPath()).ToArray();
        foreach (var path in paths)
        {
            cdn.Origin.Map(path, async ctx =>
            {
                await Task.Delay(TimeSpan.FromSeconds(3), ctx.RequestAborted);
                await ctx.Response.WriteAsync("too late");
            });
        }

        var responses = await Task.WhenAll(paths.Select(p => cdn.GetAsync(0, p, Topology.SlowSite)));

        foreach (var r in responses)
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, r.StatusCode);
            r.Dispose();
        }

        Assert.All(paths, p => Assert.Equal(1, cdn.Origin.Count(p)));

        // The passive policy's view (the active /readyz probe is a separate signal, and on a loaded
        // machine its 250 ms timeout may trip on its own).
        var state = cdn.Edges[0].Services.GetRequiredService<Yarp.ReverseProxy.IProxyStateLookup>();
        Assert.True(state.TryGetCluster("shields", out var cluster));
        Assert.All(cluster.DestinationsState.AllDestinations, d => Assert.NotEqual(Yarp.ReverseProxy.Model.DestinationHealth.Unhealthy, d.Health.Passive));
    }

    [Theory]
    [InlineData("max-age=60")]
    [InlineData("private")]
    public async Task An_origin_that_trickles_its_body_is_cut_off_at_the_transfer_timeout_and_nothing_is_stored(string cacheControl)
    {
        // Headers at once, then one byte every 100 ms: each pause is shorter than the host's
        // ResponseTimeout (300 ms), so only TransferTimeout (1 s) ends it.
        var path = NewPath();
        var aborted = 0;
        cdn.Origin.Map(path, async ctx =>
        {
            ctx.Response.Headers.CacheControl = cacheControl;
            ctx.Response.ContentLength = 10_000;
            try
            {
                for (var i = 0; i < 10_000; i++)
                {
                    await ctx.Response.Body.WriteAsync("x"u8.ToArray(), ctx.RequestAborted);
                    await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
                    await Task.Delay(100, ctx.RequestAborted);
                }
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref aborted);
            }
        });

        var started = DateTime.UtcNow;
        var received = 0;
        var cutOff = false;
        try
        {
            using var r = await cdn.GetAsync(0, path, Topology.SlowSite);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            received = (await r.Content.ReadAsByteArrayAsync()).Length;
        }
        catch (HttpRequestException)
        {
            cutOff = true;
        }

        var elapsed = DateTime.UtcNow - started;
        Assert.True(cutOff || received < 10_000, $"the client got the truncated transfer, not a whole body ({received} bytes)");
        Assert.True(elapsed < TimeSpan.FromSeconds(6), $"took {elapsed}");
        await Topology.WaitUntilAsync(() => Volatile.Read(ref aborted) >= 1, TimeSpan.FromSeconds(5), "the origin's request was aborted");

        // Nothing was stored: the next request goes to the origin again.
        var before = cdn.Origin.Count(path);
        try
        {
            using var again = await cdn.GetAsync(1, path, Topology.SlowSite);
            Assert.DoesNotContain("hit", again.EdgeStatus(), StringComparison.Ordinal);
        }
        catch (HttpRequestException)
        {
        }

        Assert.True(cdn.Origin.Count(path) > before, "the object was fetched again, not served from a store");
    }

    [Theory]
    [InlineData("private", true)]
    [InlineData("max-age=60", true)]
    [InlineData("max-age=60", false)]
    public async Task Large_bodies_arrive_intact_stored_or_not_with_or_without_Content_Length(string cacheControl, bool contentLength)
    {
        var path = NewPath();
        var body = new byte[5 * 1024 * 1024 + 123];
        new Random(42).NextBytes(body);
        cdn.Origin.Map(path, async ctx =>
        {
            ctx.Response.Headers.CacheControl = cacheControl;
            if (contentLength) ctx.Response.ContentLength = body.Length;
            for (var offset = 0; offset < body.Length; offset += 100_000)
            {
                await ctx.Response.Body.WriteAsync(body.AsMemory(offset, Math.Min(100_000, body.Length - offset)));
            }
        });

        for (var i = 0; i < 2; i++)
        {
            using var r = await cdn.GetAsync(i, path);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(body, await r.Content.ReadAsByteArrayAsync());
        }

        Assert.Equal(cacheControl == "private" ? 2 : 1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task An_upstream_that_breaks_mid_body_gives_a_truncated_transfer_and_nothing_is_stored()
    {
        var path = NewPath();
        var attempts = 0;
        cdn.Origin.Map(path, async ctx =>
        {
            Interlocked.Increment(ref attempts);
            ctx.Response.Headers.CacheControl = "max-age=600";
            ctx.Response.ContentLength = 1_000_000;
            await ctx.Response.Body.WriteAsync(new byte[400_000]);
            await ctx.Response.Body.FlushAsync();
            ctx.Abort();
        });

        for (var i = 0; i < 2; i++)
        {
            // The client sees a transfer cut short, never a complete-looking short or padded body.
            await Assert.ThrowsAnyAsync<HttpRequestException>(async () =>
            {
                using var r = await cdn.GetAsync(0, path);
                await r.Content.ReadAsByteArrayAsync();
            });
        }

        // Nothing partial was kept as complete at either tier: the second request went to the origin.
        Assert.Equal(2, Volatile.Read(ref attempts));
    }
}
