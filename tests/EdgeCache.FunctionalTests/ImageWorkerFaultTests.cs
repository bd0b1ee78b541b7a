using System.Diagnostics;
using System.Net;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// One shield with one image worker process (<c>EdgeCache:ImageWorkers:Count</c> 1), so the worker a test stops,
/// kills or overruns is the one the next job needs; <see cref="TightSite"/> allows a transformation 100 ms.
/// </summary>
public sealed class ImageWorkerTopology : Topology
{
    /// <summary>Image variants with <c>Images:Timeout</c> 100 ms (both tiers).</summary>
    public const string TightSite = "img-tight.example.com";

    public ImageWorkerTopology() : base(shields: 1, edges: 1)
    {
    }

    protected override Dictionary<string, string?> ShieldConfig(string id)
    {
        var c = WithTightSite(base.ShieldConfig(id));
        c["EdgeCache:ImageWorkers:Count"] = "1";
        return c;
    }

    protected override Dictionary<string, string?> EdgeConfig(string id) => WithTightSite(base.EdgeConfig(id));

    private static Dictionary<string, string?> WithTightSite(Dictionary<string, string?> c)
    {
        c[$"ReverseProxy:Routes:sites:Match:Hosts:{Hosts.Length}"] = TightSite;
        c[$"EdgeCache:Hosts:{TightSite}:Images:Enabled"] = "true";
        c[$"EdgeCache:Hosts:{TightSite}:Images:Timeout"] = "00:00:00.100";
        return c;
    }
}

[CollectionDefinition(Name)]
public sealed class ImageWorkerFixtureGroup : ICollectionFixture<ImageWorkerTopology>
{
    public const string Name = "image-workers";
}

/// <summary>
/// A worker that dies mid-job or overruns its time limit costs that one variant: the client gets the original
/// with the reason in Cache-Status, the shield counts the refusal, and the next variant is made by a new worker.
/// The worker processes are real (<c>EdgeCache.ImageWorker</c> children of the in-process shield); the test
/// stops and kills one with real signals, found by the pid the shield's supervisor holds (no outside way).
/// </summary>
[Collection(ImageWorkerFixtureGroup.Name)]
public sealed class ImageWorkerFaultTests(ImageWorkerTopology cdn)
{
    private CacheEngine Shield => cdn.Shields[0].Services.GetRequiredService<CacheEngine>();

    private long Metric(string name) => cdn.Shields[0].Metric(name);

    private string Original(byte[] body, string contentType)
    {
        var path = $"/photos/{Guid.NewGuid():N}/original";
        cdn.Origin.Map(path, async ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            ctx.Response.ContentType = contentType;
            ctx.Response.ContentLength = body.Length;
            await ctx.Response.Body.WriteAsync(body);
        });
        return path;
    }

    /// <summary>A variant made (by default on <see cref="Topology.ImageSite"/>, 10 s limit): a worker is alive and idle after it.</summary>
    private async Task AssertAVariantIsMadeAsync(string host = Topology.ImageSite)
    {
        var made = Metric("edgecache.images.variants");
        using var r = await cdn.GetAsync(0, "/_img/width=128,format=webp" + Original(TestImages.Photo, "image/jpeg"), host);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(("webp", 128, 96, 1), TestImages.Decode(await r.Content.ReadAsByteArrayAsync()));
        Assert.Equal(made + 1, Metric("edgecache.images.variants"));
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", [signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]))!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    [Fact]
    public async Task A_worker_killed_mid_job_costs_that_variant_and_the_next_one_is_made_by_a_new_worker()
    {
        await AssertAVariantIsMadeAsync();
        var pid = Assert.Single(Shield.Images.Workers.ProcessIds);
        var started = Metric("edgecache.images.workers.started");
        var refused = Metric("edgecache.images.refused");

        // Stopped (SIGSTOP), the worker takes the next job and cannot answer; once the shield has handed it the
        // job (the busy gauge says so), SIGKILL: it dies mid-job, as a decoder crashing on hostile input would.
        Signal(pid, "-STOP");
        var path = "/_img/width=256,format=webp" + Original(TestImages.Photo, "image/jpeg");
        var pending = cdn.GetAsync(0, path, Topology.ImageSite);
        await Topology.WaitUntilAsync(() => Metric("edgecache.images.workers.busy") == 1, TimeSpan.FromSeconds(5), "the stopped worker has the job");
        Signal(pid, "-KILL");

        using (var r = await pending)
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(TestImages.Photo, await r.Content.ReadAsByteArrayAsync());
            Assert.Equal("image/jpeg", r.Content.Headers.ContentType?.MediaType);
            Assert.Contains("detail=image-fallback; image-refused=worker-crashed", r.ShieldStatus(), StringComparison.Ordinal);
            Assert.Contains("no-store", r.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
        }

        Assert.Equal(refused + 1, Metric("edgecache.images.refused"));
        Assert.Equal(0, Metric("edgecache.images.workers.busy"));
        Assert.DoesNotContain(pid, Shield.Images.Workers.ProcessIds);

        // Not stored: the same variant asked again is made, by a new worker.
        using (var again = await cdn.GetAsync(0, path, Topology.ImageSite))
        {
            Assert.Equal(("webp", 256, 192, 1), TestImages.Decode(await again.Content.ReadAsByteArrayAsync()));
        }

        Assert.Equal(started + 1, Metric("edgecache.images.workers.started"));
        Assert.NotEqual(pid, Assert.Single(Shield.Images.Workers.ProcessIds));
    }

    [Fact]
    public async Task A_job_over_the_time_limit_is_killed_the_original_served_and_the_next_variant_made()
    {
        await AssertAVariantIsMadeAsync();
        var pid = Assert.Single(Shield.Images.Workers.ProcessIds);
        var started = Metric("edgecache.images.workers.started");
        var refused = Metric("edgecache.images.refused");

        // 24 million pixels (under the 50 M limit) of PNG, which libvips must decode in full, to AVIF: far more
        // than this host's 100 ms.
        var large = TestImages.LargePng(6000, 4000);
        using (var r = await cdn.GetAsync(0, "/_img/width=2560,format=avif" + Original(large, "image/png"), ImageWorkerTopology.TightSite))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(large, await r.Content.ReadAsByteArrayAsync());
            Assert.Equal("image/png", r.Content.Headers.ContentType?.MediaType);
            Assert.Contains("detail=image-fallback; image-refused=timeout", r.ShieldStatus(), StringComparison.Ordinal);
        }

        Assert.Equal(refused + 1, Metric("edgecache.images.refused"));
        Assert.DoesNotContain(pid, Shield.Images.Workers.ProcessIds);

        // The next variant on the same 100 ms host is made by a new worker: its start-up (the runtime, libvips and a
        // first small variant, before it says it is ready) does not count against the job's limit.
        await AssertAVariantIsMadeAsync(ImageWorkerTopology.TightSite);
        Assert.Equal(started + 1, Metric("edgecache.images.workers.started"));
        Assert.NotEqual(pid, Assert.Single(Shield.Images.Workers.ProcessIds));
    }
}
