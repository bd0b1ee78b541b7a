using System.Diagnostics;
using System.Net.Http.Headers;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy.Invalidation;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// Purges on a busy node: applied while every thread-pool thread is taken, and applied and acknowledged
/// promptly while the edges serve a flood of requests. The tests hold the process's thread pool, so they
/// run alone (no other collection in parallel), on their own CDN.
/// </summary>
[Collection(Name)]
public sealed class InvalidationUnderLoadTests(InvalidationTopology cdn)
{
    public const string Name = "invalidation under load";

    private async Task<(string Body, string EdgeStatus)> GetAsync(int edge, string path)
    {
        using var r = await cdn.GetAsync(edge, path);
        Assert.Equal(200, (int)r.StatusCode);
        return (await r.BodyAsync(), r.EdgeStatus());
    }

    /// <summary>An origin object whose body is its version; returns a function that publishes the next one.</summary>
    private Func<int> Versioned(string path)
    {
        var version = 1;
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "public, max-age=3600";
            return ctx.Response.WriteAsync("v" + Volatile.Read(ref version));
        });
        return () => Interlocked.Increment(ref version);
    }

    private async Task<bool> CompleteAsync(string id)
    {
        using var get = new HttpRequestMessage(HttpMethod.Get, new Uri(cdn.ApiUri, "/purge/" + id));
        get.Headers.Authorization = new AuthenticationHeaderValue("Bearer", InvalidationTopology.AllKey);
        using var r = await cdn.Client.SendAsync(get);
        return (await r.BodyAsync()).Contains("\"complete\":true", StringComparison.Ordinal);
    }

    [Fact]
    public async Task Purges_a_node_has_received_are_applied_while_every_thread_pool_thread_is_taken()
    {
        const int purges = 5;
        var edge = cdn.Edges[0];
        var service = edge.Services.GetRequiredService<InvalidationService>();
        var paths = Enumerable.Range(0, purges).Select(i => $"/load/{Guid.NewGuid():N}/{i}").ToList();
        var publish = paths.Select(Versioned).ToList();
        foreach (var p in paths)
        {
            await GetAsync(0, p);
            Assert.Contains("hit", (await GetAsync(0, p)).EdgeStatus, StringComparison.Ordinal);
        }

        // A slow apply on edge-1, so the purges have reached it and wait there to be applied.
        service.ApplyDelay = TimeSpan.FromMilliseconds(150);
        var ids = new List<string>();
        ulong last = 0;
        try
        {
            for (var i = 0; i < purges; i++)
            {
                publish[i]();
                var (status, accepted, _) = await cdn.PostAsync("/purge", $"{{\"urls\":[\"http://{Topology.Site}{paths[i]}\"]}}");
                Assert.Equal(202, status);
                ids.Add(accepted.GetProperty("id").GetString()!);
                last = accepted.GetProperty("sequence").GetUInt64();
            }

            await Topology.WaitUntilAsync(() => edge.Metric("edgecache.invalidation.delivered") >= (long)last, TimeSpan.FromSeconds(10), "edge-1 has received every purge");
            Assert.True(edge.Metric("edgecache.invalidation.sequence") < (long)last, "edge-1 has not applied them all yet");
            Assert.True(edge.Metric("edgecache.invalidation.pending") > 0, "edge-1 counts the purges it holds as pending");

            // Take every thread-pool thread, and those it adds while they are taken, then watch edge-1's applied
            // sequence from this thread (the node's meters, read in-process, need no pool thread).
            var (applied, poolFree) = WhileThreadPoolIsTaken(() =>
            {
                var deadline = Stopwatch.StartNew();
                long seq;
                while ((seq = edge.Metric("edgecache.invalidation.sequence")) < (long)last && deadline.Elapsed < TimeSpan.FromSeconds(5)) Thread.Yield();
                return seq;
            });
            Assert.False(poolFree, "the thread pool was free while edge-1 applied: the test proves nothing");
            Assert.Equal((long)last, applied);
        }
        finally
        {
            service.ApplyDelay = TimeSpan.Zero;
        }

        // Once the pool is free again, the acknowledgements reach the purge API and clients see the new versions.
        foreach (var id in ids) await Topology.WaitUntilAsync(() => CompleteAsync(id), "purge " + id + " completes", TimeSpan.FromSeconds(10));
        foreach (var p in paths) Assert.Equal("v2", (await GetAsync(0, p)).Body);
    }

    /// <summary>Runs <paramref name="watch"/> on this thread while every thread-pool thread is blocked (more
    /// work items that block are queued than the pool has threads, and it adds threads only slowly while they
    /// are taken); returns its result and whether a work item queued after them ran before it returned.</summary>
    private static (T Result, bool PoolFree) WhileThreadPoolIsTaken<T>(Func<T> watch)
    {
        using var release = new ManualResetEventSlim();
        var taken = 0;
        var blockers = ThreadPool.ThreadCount + 64;
        for (var i = 0; i < blockers; i++)
        {
            ThreadPool.UnsafeQueueUserWorkItem(
                _ =>
                {
                    Interlocked.Increment(ref taken);
                    release.Wait();
                },
                null);
        }

        var probe = 0;
        ThreadPool.UnsafeQueueUserWorkItem(_ => Volatile.Write(ref probe, 1), null);
        try
        {
            // This thread may itself be a pool thread: until the others are taken, wait here, without yielding it.
            var deadline = Stopwatch.StartNew();
            while (Volatile.Read(ref taken) < Math.Min(blockers, ThreadPool.ThreadCount - 1) && deadline.Elapsed < TimeSpan.FromSeconds(5)) Thread.Yield();
            var result = watch();
            return (result, Volatile.Read(ref probe) == 1);
        }
        finally
        {
            release.Set();
        }
    }

    [Fact]
    public async Task Purges_are_applied_and_acknowledged_promptly_while_the_edges_serve_a_flood_of_requests()
    {
        var hot = Enumerable.Range(0, 20).Select(i => $"/load/{Guid.NewGuid():N}/hot{i}").ToList();
        foreach (var p in hot) Versioned(p);
        foreach (var p in hot)
        {
            await GetAsync(0, p);
            await GetAsync(1, p);
        }

        using var stop = new CancellationTokenSource();
        var served = 0L;
        var readers = Enumerable.Range(0, 4 * Environment.ProcessorCount).Select(r => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                using var response = await cdn.GetAsync((r + i) % 2, hot[(r * 7 + i) % hot.Count]);
                await response.Content.ReadAsByteArrayAsync();
                Interlocked.Increment(ref served);
            }
        })).ToList();

        var slowest = TimeSpan.Zero;
        try
        {
            for (var i = 0; i < 20; i++)
            {
                var path = $"/load/{Guid.NewGuid():N}/purged";
                var started = Stopwatch.StartNew();
                var result = await cdn.PurgeAsync($"{{\"urls\":[\"http://{Topology.Site}{path}\"]}}");
                if (started.Elapsed > slowest) slowest = started.Elapsed;
                Assert.Equal(4, result.GetProperty("acked").GetArrayLength());
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(readers);
        }

        Assert.True(Interlocked.Read(ref served) > 1000, $"the edges were busy: {served} requests served");
        Assert.True(slowest < TimeSpan.FromSeconds(1), $"the slowest purge took {slowest.TotalMilliseconds} ms under load");
    }
}

[CollectionDefinition(InvalidationUnderLoadTests.Name, DisableParallelization = true)]
public sealed class InvalidationUnderLoadFixtureGroup : ICollectionFixture<InvalidationTopology>;
