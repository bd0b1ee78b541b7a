using System.Diagnostics;
using EdgeCache.Engine;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using NATS.Client.JetStream;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// What nodes do when the stream itself changes under them (events expire past retention, or the
/// stream is deleted and made again), and edges finding shields through membership. Each test
/// runs against a real nats-server of its own fixture, since it disturbs the stream for everyone.
/// </summary>
[Collection(StreamFixtureGroup.Name)]
public sealed class StreamLifecycleTests(StreamTopology cdn)
{
    private static string NewPath(string name) => $"/stream/{Guid.NewGuid():N}/{name}";

    private string Cacheable(string name)
    {
        var path = NewPath(name);
        cdn.Origin.MapStatic(path, "body of " + name, ("Cache-Control", "public, max-age=3600"));
        return path;
    }

    private static async Task<(string Body, string Edge, string Via)> GetAsync(HttpClient client, Uri edge, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(edge, path));
        request.Headers.Host = Topology.Site;
        using var r = await client.SendAsync(request);
        Assert.Equal(200, (int)r.StatusCode);
        return (await r.BodyAsync(), r.EdgeStatus(), r.Header("Via"));
    }

    private static Uri TrafficOf(WebApplication node) => node.Services.GetRequiredService<NodeEndpoints>().TrafficUri();

    private static Task<int> ResetsAsync(WebApplication node) => node.StatusValueAsync<int>("invalidation", "resets");

    private static Task<bool> CurrentAsync(WebApplication node) => node.StatusValueAsync<bool>("invalidation", "current");

    private Task PublishAsync(InvalidationEvent e) => cdn.WithJetStreamAsync(async js => (await js.PublishAsync("edgecache.events", e.Serialize())).EnsureSuccess());

    /// <summary>The shields the edge's status page lists as its upstreams.</summary>
    private async Task<string[]> ShieldDestinationsAsync() =>
        [.. (await cdn.Edges[0].StatusAsync())["upstreams"]!.AsArray()
            .Where(u => u!["cluster"]!.GetValue<string>() == "shields")
            .Select(u => u!["id"]!.GetValue<string>())
            .Order(StringComparer.Ordinal)];

    /// <summary>The shields the edge lists and does not hold unhealthy (a shield still catching up after another test's stream change may be).</summary>
    private async Task<string[]> UsableShieldsAsync() =>
        [.. (await cdn.Edges[0].StatusAsync())["upstreams"]!.AsArray()
            .Where(u => u!["cluster"]!.GetValue<string>() == "shields" && u["health"]!.GetValue<string>() != "unhealthy")
            .Select(u => u!["id"]!.GetValue<string>())
            .Order(StringComparer.Ordinal)];

    private Task WaitForShieldsAsync(string[] expected, string because) =>
        Topology.WaitUntilAsync(async () => (await ShieldDestinationsAsync()).SequenceEqual(expected), because, TimeSpan.FromSeconds(10));

    private Task<string> DiscoverySourceAsync() => cdn.Edges[0].StatusValueAsync<string>("discovery");

    [Fact]
    public async Task An_edge_uses_the_shields_in_membership_and_falls_back_to_its_configuration_when_it_cannot_read_it()
    {
        // Static configuration names shield-a only; membership adds shield-b.
        await WaitForShieldsAsync(["shield-a", "shield-b"], "shield-b discovered");
        Assert.Equal("nats", await DiscoverySourceAsync());
        await Topology.WaitUntilAsync(async () => (await UsableShieldsAsync()).SequenceEqual(["shield-a", "shield-b"]), "both shields healthy", TimeSpan.FromSeconds(10));

        // Traffic reaches both: the hash sends some objects to each.
        var via = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 32; i++)
        {
            var (body, _, v) = await GetAsync(cdn.Client, cdn.EdgeUri(0), Cacheable("spread-" + i));
            Assert.StartsWith("body of spread-", body, StringComparison.Ordinal);
            via.Add(v.Contains("shield-b", StringComparison.Ordinal) ? "shield-b" : v.Contains("shield-a", StringComparison.Ordinal) ? "shield-a" : v);
        }

        Assert.Equal(["shield-a", "shield-b"], via.Order(StringComparer.Ordinal));

        // A shield that joins is used; one that leaves (it deletes its entry on stop) is dropped.
        var shieldC = await cdn.StartShieldAsync("shield-c");
        try
        {
            await WaitForShieldsAsync(["shield-a", "shield-b", "shield-c"], "shield-c discovered");
        }
        finally
        {
            await shieldC.StopAsync();
            await shieldC.DisposeAsync();
        }

        await WaitForShieldsAsync(["shield-a", "shield-b"], "shield-c dropped after it left");

        // Cut from NATS, the edge keeps the last set for KeepLastFor, then uses its configuration.
        cdn.EdgeLink.Cut();
        try
        {
            await WaitForShieldsAsync(["shield-a"], "static configuration applies again");
            Assert.Equal("static", await DiscoverySourceAsync());
            var (body, _, v) = await GetAsync(cdn.Client, cdn.EdgeUri(0), Cacheable("static"));
            Assert.Equal("body of static", body);
            Assert.Contains("shield-a", v, StringComparison.Ordinal);
        }
        finally
        {
            cdn.EdgeLink.Restore();
        }

        await WaitForShieldsAsync(["shield-a", "shield-b"], "membership used again after NATS returns");
        var metrics = await cdn.Client.GetStringAsync(new Uri(cdn.Edges[0].AdminUri(), "/metrics"));
        Assert.Contains("edgecache_upstream_healthy{", metrics, StringComparison.Ordinal);
        Assert.Contains("destination=\"shield-b\"", metrics[metrics.IndexOf("edgecache_upstream_healthy{", StringComparison.Ordinal)..], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_that_restarts_after_its_events_left_the_stream_drops_what_it_stored_and_says_so()
    {
        var control = Cacheable("gap-control");
        var config = cdn.EdgeNodeConfig("edge-gap-" + Guid.NewGuid().ToString("N")[..8]);
        var node = await cdn.StartEdgeAsync(config);
        await Topology.WaitUntilAsync(() => CurrentAsync(node), "the extra edge is current", TimeSpan.FromSeconds(10));
        await GetAsync(cdn.Client, TrafficOf(node), control);
        Assert.Contains("hit", (await GetAsync(cdn.Client, TrafficOf(node), control)).Edge, StringComparison.Ordinal);
        await node.Services.GetRequiredService<CacheEngine>().FlushDiskWritesAsync();
        await node.StopAsync();
        await node.DisposeAsync();

        // While it is down, a purge is issued and then leaves the stream (retention, or an operator's purge):
        // the node cannot know what it named.
        await PublishAsync(new InvalidationEvent { Id = "gap-" + Guid.NewGuid().ToString("N"), Kind = InvalidationKind.Purge, Tags = ["unknown-to-the-node"] });
        await cdn.PurgeStreamAsync();

        node = await cdn.StartEdgeAsync(config);
        try
        {
            await Topology.WaitUntilAsync(() => CurrentAsync(node), "the restarted edge is current", TimeSpan.FromSeconds(10));
            Assert.Equal(1, await node.StatusValueAsync<int>("invalidation", "gaps"));
            var (body, edge, _) = await GetAsync(cdn.Client, TrafficOf(node), control);
            Assert.Equal("body of gap-control", body);
            Assert.DoesNotContain("hit", edge, StringComparison.Ordinal); // its disk copy was dropped, not served
            Assert.Contains("hit", (await GetAsync(cdn.Client, TrafficOf(node), control)).Edge, StringComparison.Ordinal);
        }
        finally
        {
            await node.StopAsync();
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task When_the_stream_is_deleted_and_made_again_every_node_empties_its_tiers_and_follows_the_new_stream()
    {
        var before = Cacheable("reset-before");
        var after = Cacheable("reset-after");
        await GetAsync(cdn.Client, cdn.EdgeUri(0), before);
        Assert.Contains("hit", (await GetAsync(cdn.Client, cdn.EdgeUri(0), before)).Edge, StringComparison.Ordinal);
        var nodes = cdn.Edges.Concat(cdn.Shields).ToList();
        var resets = new List<int>();
        foreach (var n in nodes) resets.Add(await ResetsAsync(n));

        await cdn.DeleteStreamAsync();
        await Topology.WaitUntilAsync(
            async () =>
            {
                for (var i = 0; i < nodes.Count; i++)
                {
                    if (await ResetsAsync(nodes[i]) <= resets[i]) return false;
                }

                return true;
            },
            "every node sees the reset",
            TimeSpan.FromSeconds(15));

        // Current against the new stream: a confirmation made after the reset was seen, not one left
        // from before the deletion that the lease still honours for a moment.
        var resetSeen = Stopwatch.StartNew();
        await Topology.WaitUntilAsync(
            async () =>
            {
                foreach (var n in nodes)
                {
                    var invalidation = (await n.StatusAsync())["invalidation"]!;
                    if (!invalidation["current"]!.GetValue<bool>() || invalidation["sinceConfirmedMs"] is not { } since) return false;
                    if (since.GetValue<double>() >= resetSeen.Elapsed.TotalMilliseconds) return false;
                }

                return true;
            },
            "every node is current again",
            TimeSpan.FromSeconds(15));

        // Both tiers were emptied on every node: the object comes from the origin again.
        var fetched = cdn.Origin.Count(before);
        var (_, edge, _) = await GetAsync(cdn.Client, cdn.EdgeUri(0), before);
        Assert.DoesNotContain("hit", edge, StringComparison.Ordinal);
        Assert.Equal(fetched + 1, cdn.Origin.Count(before));

        // Purges in the new stream (which starts again at sequence 1) are applied.
        await GetAsync(cdn.Client, cdn.EdgeUri(0), after);
        Assert.Contains("hit", (await GetAsync(cdn.Client, cdn.EdgeUri(0), after)).Edge, StringComparison.Ordinal);
        await PublishAsync(new InvalidationEvent { Id = "after-reset", Kind = InvalidationKind.Purge, Urls = [$"http://{Topology.Site}{after}"] });
        await Topology.WaitUntilAsync(
            async () =>
            {
                foreach (var n in nodes)
                {
                    var status = await n.StatusAsync();
                    if (status["invalidation"]!["appliedSeq"]!.GetValue<ulong>() < 1) return false;
                    if (!status["purges"]!.AsArray().Any(p => p!["id"]!.GetValue<string>() == "after-reset")) return false;
                }

                return true;
            },
            "the purge in the new stream is applied everywhere",
            TimeSpan.FromSeconds(10));
        var count = cdn.Origin.Count(after);
        var (afterBody, afterEdge, _) = await GetAsync(cdn.Client, cdn.EdgeUri(0), after);
        Assert.Equal("body of reset-after", afterBody);
        Assert.DoesNotContain("hit", afterEdge, StringComparison.Ordinal);
        Assert.Equal(count + 1, cdn.Origin.Count(after));
        var applied = await cdn.Edges[0].AppliedSeqAsync();
        Assert.True(applied < 100, $"the edge follows the new stream's sequences (at {applied})");
    }

    [Fact]
    public async Task A_node_is_listed_in_membership_as_soon_as_it_reports_ready()
    {
        // Announcements every 30 s (a lease of 60 s): the first one used to come a check period (20 s)
        // after the node was current, while it already answered ready and took traffic, so a purge
        // published in between was answered "complete" without waiting for it. Now it comes at once.
        var shield = await cdn.StartShieldAsync("shield-late", c =>
        {
            c["EdgeCache:Invalidation:AnnounceInterval"] = "00:00:30";
            c["EdgeCache:Invalidation:MembershipTtl"] = "00:01:30";
            c["EdgeCache:Invalidation:Lease"] = "00:01:00";
        });
        try
        {
            var options = new EdgeCache.Nats.InvalidationOptions { NatsUrl = cdn.Nats.Url };
            await using var bus = new EdgeCache.Nats.InvalidationBus(options, "membership-reader");
            await bus.EnsureAsync(CancellationToken.None);
            await Topology.WaitUntilAsync(
                async () =>
                {
                    using var ready = await cdn.Client.GetAsync(new Uri(shield.AdminUri(), "/readyz"));
                    return ready.IsSuccessStatusCode;
                },
                "the new shield reports ready",
                TimeSpan.FromSeconds(15));
            await Topology.WaitUntilAsync(
                async () => (await bus.LiveNodesAsync(CancellationToken.None)).Any(m => m.Node == "shield-late"),
                "membership lists the new shield well within its 20 s check period",
                TimeSpan.FromSeconds(3));
        }
        finally
        {
            await shield.StopAsync();
            await shield.DisposeAsync();
        }
    }
}
