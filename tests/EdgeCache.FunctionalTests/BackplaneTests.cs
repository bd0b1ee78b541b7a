using System.Collections.Concurrent;
using System.Net.Http.Headers;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.PurgeApi;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// The purge stream as HybridCache's backplane, end to end: two application instances (each its own
/// host and ServiceProvider with a real HybridCache) following the real purge API's <c>GET /events</c>,
/// a real nats-server, and the two edges and two shields of the invalidation topology. Instances
/// never connect to NATS. Assertions are on what the application reads (value and database reads)
/// and what the CDN serves (bodies, origin requests).
/// </summary>
[Collection(InvalidationFixtureGroup.Name)]
public sealed class BackplaneTests(InvalidationTopology cdn)
{
    private readonly ConcurrentDictionary<string, string> _database = new();

    private Task<AppInstance> StartAsync(string name, string key = InvalidationTopology.AppKey, Uri? api = null, Action<EdgeCache.Client.EdgeCacheInvalidationOptions>? configure = null) =>
        AppInstance.StartAsync(api ?? cdn.ApiUri, key, $"{name}-{Guid.NewGuid():N}", _database, configure);

    /// <summary>A page at the origin tagged <paramref name="tag"/> whose body is the product's current value in the database.</summary>
    private void Page(string path, string id, string tag) => cdn.Origin.Map(path, ctx =>
    {
        ctx.Response.Headers.CacheControl = "public, max-age=3600";
        ctx.Response.Headers["Surrogate-Key"] = tag;
        return ctx.Response.WriteAsync(_database[id]);
    });

    private async Task<(string Body, string Status)> EdgeAsync(int edge, string path)
    {
        using var r = await cdn.GetAsync(edge, path);
        Assert.Equal(200, (int)r.StatusCode);
        return (await r.BodyAsync(), r.EdgeStatus());
    }

    private async Task<string> ShieldAsync(int shield, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(cdn.ShieldUri(shield), path));
        request.Headers.Host = Topology.Site;
        using var r = await cdn.Client.SendAsync(request);
        Assert.Equal(200, (int)r.StatusCode);
        return await r.Content.ReadAsStringAsync();
    }

    /// <summary>Registers an instance that then never polls again (a hung application): one raw poll.</summary>
    private async Task<string> RegisterHungAsync(string key)
    {
        var id = "hung-" + Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(cdn.ApiUri, "/events?instance=" + id));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var r = await cdn.Client.SendAsync(request);
        Assert.Equal(200, (int)r.StatusCode);
        return id;
    }

    /// <summary><c>DELETE /events</c>: the instance leaves; a purge's wait no longer counts it.</summary>
    private async Task LeaveAsync(string key, string instance)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, new Uri(cdn.ApiUri, "/events?instance=" + instance));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var r = await cdn.Client.SendAsync(request);
        Assert.Equal(204, (int)r.StatusCode);
    }

    [Fact]
    public async Task A_tag_invalidation_from_one_instance_clears_both_instances_and_every_edge_and_shield()
    {
        var id = Guid.NewGuid().ToString("N");
        var tag = "product-" + id;
        var path = $"/bp/{id}/product";
        _database[id] = "old";
        Page(path, id, tag);
        await using var a = await StartAsync("app-a");
        await using var b = await StartAsync("app-b");
        Assert.Equal(("old", "old"), (await a.GetAsync(id), await b.GetAsync(id)));
        Assert.Equal(("old", "old"), (await a.GetAsync(id), await b.GetAsync(id)));
        Assert.Equal((1, 1), (a.Reads, b.Reads)); // the second reads were L1 hits
        for (var e = 0; e < 2; e++)
        {
            await EdgeAsync(e, path);
            var (body, status) = await EdgeAsync(e, path);
            Assert.Equal("old", body);
            Assert.Contains("hit", status, StringComparison.Ordinal);
        }

        var originBefore = cdn.Origin.Count(path);
        _database[id] = "new";

        var result = await a.Backplane.InvalidateTagsAsync([tag], wait: true);

        Assert.True(result.Complete, $"missing nodes {string.Join(',', result.Missing)}, instances {string.Join(',', result.InstancesMissing)}");
        Assert.Equal(new[] { a.Id, b.Id }.Order(StringComparer.Ordinal), result.InstancesAcked.Select(i => i.Instance).Order(StringComparer.Ordinal));
        Assert.Empty(result.InstancesMissing);
        Assert.Equal(["edge-1", "edge-2", "shield-a", "shield-b"], result.Acked.Select(n => n.Node));

        // No polling: once wait returned, neither instance nor any node serves the old value.
        Assert.Equal(("new", "new"), (await a.GetAsync(id), await b.GetAsync(id)));
        Assert.Equal((2, 2), (a.Reads, b.Reads));
        for (var e = 0; e < 2; e++) Assert.Equal("new", (await EdgeAsync(e, path)).Body);
        for (var s = 0; s < 2; s++) Assert.Equal("new", await ShieldAsync(s, path));
        Assert.True(cdn.Origin.Count(path) > originBefore);
        Assert.True(b.Backplane.AppliedSequence >= result.Sequence);
    }

    [Fact]
    public async Task An_instance_cut_off_during_an_invalidation_stops_trusting_L1_before_the_wait_ends_and_applies_it_on_reconnect()
    {
        var id = Guid.NewGuid().ToString("N");
        _database[id] = "old";
        await using var link = new TcpProxy(cdn.ApiUri.Port);
        await using var a = await StartAsync("app-a");

        // B's own lease is long, but it follows the API's shorter instance lease (3 s here).
        await using var b = await StartAsync("app-b", api: new Uri($"http://127.0.0.1:{link.Port}/"), configure: o => o.Lease = TimeSpan.FromMinutes(5));
        Assert.Equal(("old", "old"), (await a.GetAsync(id), await b.GetAsync(id)));
        var before = b.Backplane.AppliedSequence;
        link.Cut();
        _database[id] = "new";

        var result = await a.Backplane.InvalidateTagsAsync(["product-" + id], wait: true, CancellationToken.None);

        // B was registered but cut off: the wait ends when its registration does, and names it.
        Assert.True(result.Complete);
        Assert.Equal([a.Id], result.InstancesAcked.Select(i => i.Instance));
        Assert.Equal([b.Id], result.InstancesLeft);
        Assert.Equal(before, b.Backplane.AppliedSequence);

        // Its lease ended no later than its registration did: cut off, it still never serves the old value once the wait returned.
        Assert.False(b.Backplane.IsConfirmed);
        Assert.Equal("new", await b.GetAsync(id));

        link.Restore();
        await Topology.WaitUntilAsync(() => b.Backplane.IsConfirmed, TimeSpan.FromSeconds(10), "B resumes from its last sequence, applies the missed event and confirms");

        // L1 trusted again, and the old entry is gone from it: the missed event was applied, not skipped.
        Assert.True(b.Backplane.AppliedSequence >= result.Sequence);
        Assert.Equal("new", await b.GetAsync(id));
        Assert.Equal("new", await b.GetAsync(id));
        Assert.Equal(3, b.Reads);
    }

    [Fact]
    public async Task An_instance_that_cannot_confirm_within_its_lease_bypasses_L1_until_it_has_applied_what_it_missed()
    {
        var id = Guid.NewGuid().ToString("N");
        _database[id] = "old";
        await using var link = new TcpProxy(cdn.ApiUri.Port);
        await using var a = await StartAsync("app-a");
        await using var b = await StartAsync("app-b", api: new Uri($"http://127.0.0.1:{link.Port}/"), configure: o => o.Lease = TimeSpan.FromSeconds(1.5));
        Assert.Equal("old", await b.GetAsync(id));
        Assert.Equal("old", await b.GetAsync(id));
        Assert.Equal(1, b.Reads);
        link.Cut();
        _database[id] = "new";
        var result = await a.Backplane.InvalidateTagsAsync(["product-" + id]);

        await Topology.WaitUntilAsync(() => !b.Backplane.IsConfirmed, TimeSpan.FromSeconds(10), "B's lease ends while it is cut off");

        // Unconfirmed: every read goes past L1 (to the database here), and none is kept there.
        Assert.Equal("new", await b.GetAsync(id));
        Assert.Equal("new", await b.GetAsync(id));
        Assert.Equal(3, b.Reads);
        Assert.True(b.Backplane.AppliedSequence < result.Sequence);

        link.Restore();
        await Topology.WaitUntilAsync(() => b.Backplane.IsConfirmed, TimeSpan.FromSeconds(10), "B confirms again");

        Assert.True(b.Backplane.AppliedSequence >= result.Sequence);
        Assert.Equal("new", await b.GetAsync(id));
        Assert.Equal("new", await b.GetAsync(id));
        Assert.Equal(4, b.Reads); // L1 in use again: one fill, then a hit
    }

    [Fact]
    public async Task Wait_covers_the_calling_keys_instances_only_and_a_hung_one_drops_out_after_its_lease()
    {
        var id = Guid.NewGuid().ToString("N");
        _database[id] = "old";
        await using var a = await StartAsync("app-a");
        await using var b = await StartAsync("app-b");
        await using var other = await StartAsync("other-app", InvalidationTopology.OtherAppKey);
        var hungElsewhere = await RegisterHungAsync(InvalidationTopology.OtherAppKey);

        var first = await a.Backplane.InvalidateTagsAsync(["product-" + id], wait: true);

        // Another publisher's instances, live or hung, are not waited for nor named.
        Assert.True(first.Complete);
        Assert.Equal(new[] { a.Id, b.Id }.Order(StringComparer.Ordinal), first.InstancesAcked.Select(i => i.Instance).Order(StringComparer.Ordinal));
        Assert.Empty(first.InstancesMissing);
        Assert.Empty(first.InstancesLeft);
        Assert.DoesNotContain(other.Id, first.InstancesAcked.Select(i => i.Instance));
        Assert.DoesNotContain(hungElsewhere, first.InstancesLeft);

        // A hung instance under the same key is waited for until its registration ends.
        var hung = await RegisterHungAsync(InvalidationTopology.AppKey);
        var second = await a.Backplane.InvalidateTagsAsync(["product-" + id], wait: true);

        Assert.True(second.Complete);
        Assert.Equal([hung], second.InstancesLeft);
        Assert.Equal(2, second.InstancesAcked.Count);

        // One that leaves is not waited for at all.
        var leaving = await RegisterHungAsync(InvalidationTopology.AppKey);
        await LeaveAsync(InvalidationTopology.AppKey, leaving);
        var third = await a.Backplane.InvalidateTagsAsync(["product-" + id], wait: true);
        Assert.True(third.Complete);
        Assert.Empty(third.InstancesLeft);
        Assert.Empty(third.InstancesMissing);
        await LeaveAsync(InvalidationTopology.OtherAppKey, hungElsewhere);

        // The other publisher's instance still gets the purge (its host's), just not waited for.
        await Topology.WaitUntilAsync(() => other.Backplane.AppliedSequence >= second.Sequence, TimeSpan.FromSeconds(10), "the other key's instance applies a purge of its host");
    }

    [Fact]
    public async Task The_feed_refuses_bad_input_with_problems()
    {
        // Under the other key, so that these registrations never count in the AppKey tests' waits.
        async Task<(int, string?)> GetAsync(string query, string? key = InvalidationTopology.OtherAppKey)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(cdn.ApiUri, "/events" + query));
            if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var r = await cdn.Client.SendAsync(request);
            return ((int)r.StatusCode, r.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal((401, "application/problem+json"), await GetAsync("?instance=x", key: null));
        Assert.Equal((400, "application/problem+json"), await GetAsync(""));
        Assert.Equal((400, "application/problem+json"), await GetAsync("?instance=has%20space"));
        Assert.Equal((400, "application/problem+json"), await GetAsync("?instance=x&after=-1"));
        Assert.Equal((400, "application/problem+json"), await GetAsync("?instance=x&timeoutMs=999999"));
        Assert.Equal((200, "application/json"), await GetAsync("?instance=bad-input-" + Guid.NewGuid().ToString("N") + "&timeoutMs=0"));
    }

    [Fact]
    public async Task A_cursor_the_feed_does_not_hold_is_told_to_reset()
    {
        var last = cdn.Api.Services.GetRequiredService<EventFeed>().Last;
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(cdn.ApiUri, $"/events?instance=reset-{Guid.NewGuid():N}&after={last + 1000}&timeoutMs=0"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", InvalidationTopology.OtherAppKey);
        using var r = await cdn.Client.SendAsync(request);
        var page = System.Text.Json.JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;

        Assert.True(page.GetProperty("reset").GetBoolean());
        Assert.True(page.GetProperty("last").GetUInt64() >= last);
    }
}
