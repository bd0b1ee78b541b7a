using System.Net;
using EdgeCache.Engine;
using EdgeCache.FunctionalTests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests;

/// <summary>Three shields behind one edge; one shield is stopped mid-test.</summary>
public sealed class ThreeShieldTopology() : Topology(shields: 3, edges: 1);

public sealed class FailoverTests(ThreeShieldTopology cdn) : IClassFixture<ThreeShieldTopology>
{
    private static readonly string[] ShieldIds = ["shield-a", "shield-b", "shield-c"];

    private static string Owner(string path, IEnumerable<string> shields)
    {
        var ids = shields.ToArray();
        var hashes = ids.Select(RendezvousHash.HashNode).ToArray();
        var key = CacheKey.Build("http", Topology.Site, path, HostCachePolicy.Default);
        return ids[RendezvousHash.Pick(RendezvousHash.HashKey(key), hashes)];
    }

    private static string ShieldOf(HttpResponseMessage r) => r.Header("Via").Split(", ")[0].Split(' ')[1];

    [Fact]
    public async Task Stopping_a_shield_moves_only_its_keys_and_requests_keep_succeeding()
    {
        cdn.Origin.Map("/fo", _ => Task.CompletedTask);
        for (var i = 0; i < 60; i++)
        {
            cdn.Origin.MapStatic($"/fo/warm/{i}", "warm " + i, ("Cache-Control", "max-age=600"));
            cdn.Origin.MapStatic($"/fo/new/{i}", "new " + i, ("Cache-Control", "max-age=600"));
        }

        // Warm: every miss goes to the shield the consistent hash names.
        for (var i = 0; i < 60; i++)
        {
            using var r = await cdn.GetAsync(0, $"/fo/warm/{i}");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(Owner($"/fo/warm/{i}", ShieldIds), ShieldOf(r));
        }

        await cdn.Shields[0].StopAsync();

        // Cached objects keep being served, with no errors.
        for (var i = 0; i < 60; i++)
        {
            using var r = await cdn.GetAsync(0, $"/fo/warm/{i}");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("warm " + i, await r.BodyAsync());
        }

        // Misses: the dead shield's keys move (a failed idempotent request is retried on the next
        // shield, so none fails); every other key stays on its shield.
        var failures = 0;
        var moved = 0;
        for (var i = 0; i < 60; i++)
        {
            var path = $"/fo/new/{i}";
            using var r = await cdn.GetAsync(0, path);
            if (r.StatusCode != HttpStatusCode.OK)
            {
                failures++;
                continue;
            }

            var before = Owner(path, ShieldIds);
            var after = Owner(path, ShieldIds.Skip(1));
            Assert.Equal(after, ShieldOf(r));
            if (before != after) moved++;
            Assert.True(before == "shield-a" || before == after, $"{path} moved from {before} to {after}");
        }

        Assert.Equal(0, failures);
        Assert.InRange(moved, 10, 35); // about a third of 60
    }
}

/// <summary>One shield, one edge, for shutdown behaviour.</summary>
/// <summary>One shield, one edge whose shutdown waits up to 20 s for requests in flight (the shared
/// fixtures' 1 s is shorter than the test's own steps take on two busy cores).</summary>
public sealed class SingleTopology() : Topology(shields: 1, edges: 1)
{
    protected override Dictionary<string, string?> EdgeConfig(string id)
    {
        var c = base.EdgeConfig(id);
        c["EdgeCache:ShutdownTimeout"] = "00:00:20";
        return c;
    }
}

public sealed class ShutdownTests(SingleTopology cdn) : IClassFixture<SingleTopology>
{
    [Fact]
    public async Task A_stopping_node_finishes_requests_in_flight_and_accepts_no_new_connections()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cdn.Origin.Map("/slow", async ctx =>
        {
            arrived.TrySetResult();
            await release.Task.WaitAsync(TimeSpan.FromSeconds(20));
            ctx.Response.Headers.CacheControl = "max-age=60";
            await ctx.Response.WriteAsync("finished");
        });

        var edgeUri = cdn.EdgeUri(0);
        var inFlight = cdn.GetAsync(0, "/slow");
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var stopping = cdn.Edges[0].StopAsync();
        await Topology.WaitUntilAsync(() => cdn.Edges[0].Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested);

        using var fresh = new HttpClient();
        await Assert.ThrowsAsync<HttpRequestException>(async () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, new Uri(edgeUri, "/other"));
            request.Headers.Host = Topology.Site;
            request.Headers.ConnectionClose = true;
            using var _ = await fresh.SendAsync(request);
        });

        release.SetResult();
        using var response = await inFlight;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("finished", await response.BodyAsync());
        await stopping;
    }
}
