using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// A disk store the node opens after start-up (it could not be opened at first) or opens again
/// (it stalled) must keep the invalidation state with its checkpoints like the first one does:
/// after a restart the node resumes from the sequence kept with the checkpoint, a purge applied
/// before the stop still holds, and nothing else stored is dropped.
/// </summary>
[Collection(InvalidationFixtureGroup.Name)]
public sealed class ReopenedDiskInvalidationTests(InvalidationTopology cdn)
{
    private static string NewPath(string name) => $"/reopen/{Guid.NewGuid():N}/{name}";

    /// <summary>An origin object whose body is its version; <paramref name="version"/> is read on each request.</summary>
    private void Versioned(string path, Func<int> version) => cdn.Origin.Map(path, ctx =>
    {
        ctx.Response.Headers.CacheControl = "public, max-age=3600";
        return ctx.Response.WriteAsync($"v{version()}");
    });

    /// <summary>A target whose version the test changes, a control that never changes, and an extra
    /// edge's configuration (its own disk directory; the supervisor retries the store every 100 ms).</summary>
    private sealed class Scenario
    {
        private int _version = 1;

        public required string Target { get; init; }

        public required string Control { get; init; }

        public required Dictionary<string, string?> Config { get; init; }

        public string DiskDirectory => Config["EdgeCache:Disk:Directory"]!;

        public int Version => Volatile.Read(ref _version);

        public void ChangeTarget() => Interlocked.Increment(ref _version);
    }

    private Scenario Arrange(string idPrefix)
    {
        var scenario = new Scenario { Target = NewPath("target"), Control = NewPath("control"), Config = cdn.ExtraEdgeConfig(idPrefix + Guid.NewGuid().ToString("N")[..8]) };
        scenario.Config["EdgeCache:Disk:ReopenInterval"] = "00:00:00.100";
        Versioned(scenario.Target, () => scenario.Version);
        Versioned(scenario.Control, () => 1);
        return scenario;
    }

    private async Task<(string Body, string Status)> GetAsync(WebApplication node, string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(node.Services.GetRequiredService<NodeEndpoints>().TrafficUri(), path));
        request.Headers.Host = Topology.Site;
        using var r = await cdn.Client.SendAsync(request);
        Assert.Equal(200, (int)r.StatusCode);
        return (await r.BodyAsync(), r.EdgeStatus());
    }

    [Fact]
    public async Task A_store_opened_after_a_failed_start_keeps_the_purges_and_sequence_with_its_checkpoints()
    {
        var scenario = Arrange("edge-late-disk-");
        var (target, control, config, diskDirectory) = (scenario.Target, scenario.Control, scenario.Config, scenario.DiskDirectory);

        // A regular file where the store's directory should be: the store cannot be opened at start-up.
        Directory.CreateDirectory(Path.GetDirectoryName(diskDirectory)!);
        await File.WriteAllTextAsync(diskDirectory, "not a directory");
        var node = await cdn.StartExtraNodeAsync(config);
        string? applied;
        try
        {
            await Topology.WaitUntilAsync(() => node.StatusValueAsync<bool>("invalidation", "current"), "the extra edge is current", TimeSpan.FromSeconds(10));
            Assert.Contains("disk: failing: could not open the store", await node.HealthAsync(), StringComparison.Ordinal);

            // The disk comes back: the node's supervisor opens the store.
            File.Delete(diskDirectory);
            await Topology.WaitUntilAsync(async () => (await node.HealthAsync()).Contains("disk: ok", StringComparison.Ordinal), "the store is opened once the disk is back");

            applied = await StoreThenPurgeTargetAsync(node, target, control, scenario.ChangeTarget);
        }
        finally
        {
            await node.StopAsync();
            await node.DisposeAsync();
        }

        await RestartAndCheckAsync(config, target, control, applied);
    }

    [Fact]
    public async Task A_store_reopened_after_it_stalled_keeps_the_purges_and_sequence_with_its_checkpoints()
    {
        var scenario = Arrange("edge-stalled-disk-");
        var (target, control, config, diskDirectory) = (scenario.Target, scenario.Control, scenario.Config, scenario.DiskDirectory);
        config["EdgeCache:Disk:OperationTimeout"] = "00:00:01";
        config["EdgeCache:Disk:CheckpointInterval"] = "00:00:00.200";
        var node = await cdn.StartExtraNodeAsync(config);
        string? applied;
        try
        {
            await Topology.WaitUntilAsync(() => node.StatusValueAsync<bool>("invalidation", "current"), "the extra edge is current", TimeSpan.FromSeconds(10));
            Assert.Contains("disk: ok", await node.HealthAsync(), StringComparison.Ordinal);
            await Topology.WaitUntilAsync(() => Directory.Exists(Path.Combine(diskDirectory, "store", "checkpoints")) && Directory.EnumerateFileSystemEntries(Path.Combine(diskDirectory, "store", "checkpoints")).Any(), TimeSpan.FromSeconds(10), "a first checkpoint");

            // The log directory turns into a file under the running store: its next segment cannot be
            // written, a page flush fails and writes wait for it forever. Objects are fetched (and written
            // behind) until the store stalls and the supervisor replaces it (setting the broken one aside).
            var hlog = Path.Combine(diskDirectory, "store", "hlog");
            Directory.Delete(hlog, recursive: true);
            await File.WriteAllTextAsync(hlog, "not a directory");
            var filler = new byte[100_000];
            new Random(7).NextBytes(filler);
            var fill = NewPath("fill");
            bool Reopened() => Directory.EnumerateDirectories(diskDirectory, "store.set-aside-*").Any();
            for (var i = 0; !Reopened(); i++)
            {
                Assert.True(i < 1000, "1000 writes of 100 KB did not stall the store");
                cdn.Origin.Map($"{fill}/{i}", ctx =>
                {
                    ctx.Response.Headers.CacheControl = "public, max-age=3600";
                    return ctx.Response.Body.WriteAsync(filler).AsTask();
                });
                await GetAsync(node, $"{fill}/{i}");
                await node.Services.GetRequiredService<CacheEngine>().FlushDiskWritesAsync();
            }

            await Topology.WaitUntilAsync(async () => (await node.HealthAsync()).Contains("disk: ok", StringComparison.Ordinal), "the reopened store works");

            // The fill's writes still queued go to the reopened store first: while they fill the write queue,
            // a new object whose shield holds it may have its write dropped (by design), and the control
            // object below must reach the disk.
            await node.Services.GetRequiredService<CacheEngine>().FlushDiskWritesAsync();
            applied = await StoreThenPurgeTargetAsync(node, target, control, scenario.ChangeTarget);
        }
        finally
        {
            await node.StopAsync();
            await node.DisposeAsync();
        }

        await RestartAndCheckAsync(config, target, control, applied);
    }

    [Fact]
    public async Task Objects_of_an_earlier_run_in_a_store_opened_after_a_failed_start_are_not_served_past_purges_the_node_missed()
    {
        var scenario = Arrange("edge-old-disk-");
        var (target, control, config, diskDirectory) = (scenario.Target, scenario.Control, scenario.Config, scenario.DiskDirectory);

        // Run 1 stores both objects and stops (a checkpoint, with the sequence it applied).
        var node = await cdn.StartExtraNodeAsync(config);
        try
        {
            await Topology.WaitUntilAsync(() => node.StatusValueAsync<bool>("invalidation", "current"), "the extra edge is current", TimeSpan.FromSeconds(10));
            Assert.Equal("v1", (await GetAsync(node, target)).Body);
            Assert.Equal("v1", (await GetAsync(node, control)).Body);
            await node.Services.GetRequiredService<CacheEngine>().FlushDiskWritesAsync();
        }
        finally
        {
            await node.StopAsync();
            await node.DisposeAsync();
        }

        // While it is down the target is changed and purged.
        scenario.ChangeTarget();
        await cdn.PurgeAsync($"{{\"urls\":[\"http://www.example.com{target}\"]}}");

        // Run 2 starts while its disk is not there (the directory is a link to a mount point that is a
        // regular file: say, a mount not ready yet), so it follows the stream from its end; then the disk comes back.
        var saved = diskDirectory + ".saved";
        var mount = diskDirectory + ".mount";
        Directory.Move(diskDirectory, saved);
        await File.WriteAllTextAsync(mount, "not a directory");
        File.CreateSymbolicLink(diskDirectory, mount);
        node = await cdn.StartExtraNodeAsync(config);
        try
        {
            await Topology.WaitUntilAsync(() => node.StatusValueAsync<bool>("invalidation", "current"), "the extra edge is current", TimeSpan.FromSeconds(10));
            Assert.Contains("disk: failing: could not open the store", await node.HealthAsync(), StringComparison.Ordinal);
            File.Delete(mount);
            Directory.Move(saved, mount);
            await Topology.WaitUntilAsync(async () => (await node.HealthAsync()).Contains("disk: ok", StringComparison.Ordinal), "the store is opened once the disk is back");

            // The purge issued while the node was down holds: the stored copy of run 1 is not served.
            var fetches = cdn.Origin.Count(target);
            var (body, status) = await GetAsync(node, target);
            Assert.True(body == "v2", $"{body} ({status})");
            Assert.Equal(fetches + 1, cdn.Origin.Count(target));
            Assert.Equal("v1", (await GetAsync(node, control)).Body);
        }
        finally
        {
            await node.StopAsync();
            await node.DisposeAsync();
        }
    }

    /// <summary>Restarts the node on its store and checks it resumed from the checkpoint: the purge holds, the rest is a disk hit.</summary>
    /// <summary>Stores v1 of both objects (and writes them to disk), then the publisher changes the
    /// target and purges it; returns the sequence the node applied. The node then stops (a checkpoint).</summary>
    private async Task<string?> StoreThenPurgeTargetAsync(WebApplication node, string target, string control, Action changeTarget)
    {
        Assert.Equal("v1", (await GetAsync(node, target)).Body);
        Assert.Equal("v1", (await GetAsync(node, control)).Body);
        await node.Services.GetRequiredService<CacheEngine>().FlushDiskWritesAsync();
        changeTarget();
        await cdn.PurgeAsync($"{{\"urls\":[\"http://www.example.com{target}\"]}}");
        return (await node.StatusAsync()).Path("invalidation", "appliedSeq").Text();
    }

    private async Task RestartAndCheckAsync(Dictionary<string, string?> config, string target, string control, string? applied)
    {
        var targetFetches = cdn.Origin.Count(target);
        var controlFetches = cdn.Origin.Count(control);
        var node = await cdn.StartExtraNodeAsync(config);
        try
        {
            await Topology.WaitUntilAsync(() => node.StatusValueAsync<bool>("invalidation", "current"), "the restarted edge is current", TimeSpan.FromSeconds(10));
            var invalidation = (await node.StatusAsync()).Path("invalidation");
            var why = invalidation?.ToJsonString();

            // It resumed from the sequence kept with the checkpoint: no gap (nothing dropped), no reset, nothing to replay.
            Assert.True(invalidation.Text("gaps") == "0", "no gap: " + why);
            Assert.True(invalidation.Text("resets") == "0", "no reset: " + why);
            Assert.True(invalidation.Text("eventsApplied") == "0", "nothing replayed: " + why);
            Assert.True(invalidation.Text("appliedSeq") == applied, $"resumed at {applied}: " + why);

            var (controlBody, controlStatus) = await GetAsync(node, control);
            Assert.Equal("v1", controlBody);
            Assert.Contains("detail=disk", controlStatus, StringComparison.Ordinal);
            Assert.Equal(controlFetches, cdn.Origin.Count(control));

            var (targetBody, targetStatus) = await GetAsync(node, target);
            Assert.Equal("v2", targetBody);
            Assert.DoesNotContain("hit", targetStatus, StringComparison.Ordinal);
            Assert.Equal(targetFetches + 1, cdn.Origin.Count(target));
        }
        finally
        {
            await node.StopAsync();
            await node.DisposeAsync();
        }
    }
}
