using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.PurgeApi;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// Faults with real node processes: an edge killed with SIGKILL while it writes to its disk tier,
/// and NATS going away and coming back under a shield and an edge that keep serving.
/// </summary>
public sealed class NodeProcessFaultTests : IAsyncLifetime, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgecache-nodeproc-").FullName;
    private readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, UseCookies = false }) { Timeout = TimeSpan.FromSeconds(20) };
    private readonly List<IAsyncDisposable> _owned = [];
    private TestOrigin _origin = null!;

    public async Task InitializeAsync() => _origin = await TestOrigin.StartAsync(TimeProvider.System);

    private async Task<NodeProcess> NodeAsync(string dll, string id, string settings, string cluster)
    {
        var traffic = NodeProcess.FreePort();
        var admin = NodeProcess.FreePort();
        var file = Path.Combine(_dir, id + ".json");
        await File.WriteAllTextAsync(file, $$"""
            { "EdgeCache": { "NodeId": "{{id}}", "Listen": { "Traffic": [ "http://127.0.0.1:{{traffic}}" ], "Admin": "http://127.0.0.1:{{admin}}" },
                             "MemoryBudgetBytes": 67108864, "ShutdownTimeout": "00:00:02" {{settings}} },
              "ReverseProxy": { "Routes": { "all": { "ClusterId": "up", "Match": { "Path": "{**catch-all}" } } },
                                "Clusters": { "up": { "Destinations": { {{cluster}} } } } },
              "Logging": { "LogLevel": { "Default": "Warning" } } }
            """);
        var node = new NodeProcess(dll, file, traffic, admin);
        _owned.Add(node);
        return node;
    }

    private static string Disk(string dir, string operationTimeout = "00:00:10") =>
        $$""", "Disk": { "Directory": "{{dir}}", "BudgetBytes": 268435456, "LogMemoryBytes": 16777216, "MaxObjectBytes": 16777216, "CheckpointInterval": "00:00:00.200", "OperationTimeout": "{{operationTimeout}}" }""";

    private static string Nats(string url) =>
        $$""", "Invalidation": { "NatsUrl": "{{url}}", "AnnounceInterval": "00:00:00.100", "MembershipTtl": "00:00:03", "Lease": "00:00:02", "RequestTimeout": "00:00:01", "ReconnectWait": "00:00:00.100" }""";

    private async Task<(int Status, byte[] Body, string CacheStatus)> GetAsync(NodeProcess node, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(node.TrafficUri, path));
        request.Headers.Host = Topology.Site;
        try
        {
            using var r = await _client.SendAsync(request);
            var body = await r.Content.ReadAsByteArrayAsync();
            return ((int)r.StatusCode, body, r.Header("Cache-Status"));
        }
        catch (HttpRequestException)
        {
            return (0, [], "");
        }
    }

    [Fact]
    public async Task An_edge_killed_while_writing_to_disk_serves_no_truncated_or_corrupt_object_after_it_restarts()
    {
        // 40 objects of 1 MiB, each its own random bytes; the edge fetches them straight from the origin.
        const int Count = 40;
        var bodies = new byte[Count][];
        for (var i = 0; i < Count; i++)
        {
            bodies[i] = new byte[1024 * 1024];
            new Random(i).NextBytes(bodies[i]);
            var body = bodies[i];
            _origin.Map($"/big/{i}", ctx =>
            {
                ctx.Response.Headers.CacheControl = "public, max-age=3600";
                ctx.Response.ContentLength = body.Length;
                return ctx.Response.Body.WriteAsync(body).AsTask();
            });
        }

        var edge = await NodeAsync(NodeProcess.EdgeDll, "edge-kill", Disk(Path.Combine(_dir, "edge-kill")), $$"""  "o": { "Address": "{{_origin.Uri}}" } """);

        // Run 1: ten objects, then a graceful stop (a checkpoint): these must come back from disk.
        await edge.StartAsync(_client);
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(bodies[i], (await GetAsync(edge, $"/big/{i}")).Body);

            // Disk writes run behind responses (and are dropped when too many are queued): wait for this one.
            var written = (i + 1) * 1024L * 1024;
            await Topology.WaitUntilAsync(async () => await DiskLogBytesAsync(edge) >= written, $"object {i} reaches the disk log");
        }

        await edge.StopAsync();

        // Run 2: the rest, four at a time, killed with SIGKILL while disk writes and checkpoints are under way.
        await edge.StartAsync(_client);
        var next = 9;
        var done = 0;
        var killed = new TaskCompletionSource();
        async Task Worker()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Count && !killed.Task.IsCompleted)
            {
                await GetAsync(edge, $"/big/{i}");
                if (Interlocked.Increment(ref done) == 15)
                {
                    await edge.KillAsync();
                    killed.TrySetResult();
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Worker()));
        Assert.True(killed.Task.IsCompleted, "the edge was killed mid-run");

        // Run 3: every object is served whole and byte-exact, whether it survived on disk or not.
        await edge.StartAsync(_client);
        var diskHits = 0;
        for (var i = 0; i < Count; i++)
        {
            var (status, body, cacheStatus) = await GetAsync(edge, $"/big/{i}");
            Assert.Equal(200, status);
            Assert.True(bodies[i].AsSpan().SequenceEqual(body), $"object {i}: {body.Length} bytes, not the origin's ({cacheStatus})");
            if (cacheStatus.Contains("detail=disk", StringComparison.Ordinal)) diskHits++;
            if (i < 10) Assert.True(cacheStatus.Contains("detail=disk", StringComparison.Ordinal), $"object {i} kept since the graceful stop is a disk hit: {cacheStatus}\n{await _client.GetStringAsync(new Uri(edge.AdminUri, "/healthz"))}\n{edge.Output}");
        }

        Assert.InRange(diskHits, 10, Count);
    }

    [Fact]
    public async Task An_edge_whose_disk_becomes_unwritable_keeps_serving_whole_bodies_and_reports_it()
    {
        const int Count = 60;
        var bodies = new byte[Count][];
        for (var i = 0; i < Count; i++)
        {
            bodies[i] = new byte[100_000 + i];
            new Random(1000 + i).NextBytes(bodies[i]);
            var body = bodies[i];
            _origin.Map($"/u/{i}", ctx =>
            {
                ctx.Response.Headers.CacheControl = "public, max-age=3600";
                return ctx.Response.Body.WriteAsync(body).AsTask();
            });
        }

        var dir = Path.Combine(_dir, "edge-unwritable");
        var edge = await NodeAsync(NodeProcess.EdgeDll, "edge-unwritable", Disk(dir, operationTimeout: "00:00:01"), $$"""  "o": { "Address": "{{_origin.Uri}}" } """);
        await edge.StartAsync(_client);
        for (var i = 0; i < 10; i++) Assert.Equal(bodies[i], (await GetAsync(edge, $"/u/{i}")).Body);
        Assert.Contains("disk: ok", await ReadyAsync(edge), StringComparison.Ordinal);

        // The log directory turns into a file under the running node: no new segment can be written.
        var hlog = Path.Combine(dir, "store", "hlog");
        Directory.Delete(hlog, recursive: true);
        await File.WriteAllTextAsync(hlog, "not a directory");

        // Every request is answered whole, from memory or the origin, until and after the node notices.
        for (var round = 0; round < 3; round++)
        {
            for (var i = 0; i < Count; i++)
            {
                var (status, body, cacheStatus) = await GetAsync(edge, $"/u/{i}");
                Assert.Equal(200, status);
                Assert.True(bodies[i].AsSpan().SequenceEqual(body), $"object {i}: {body.Length} bytes ({cacheStatus})");
            }
        }

        await Topology.WaitUntilAsync(async () => (await ReadyAsync(edge)).Contains("disk: failing", StringComparison.Ordinal), "the node reports its disk failing");
        var ready = await ReadyAsync(edge);
        Assert.StartsWith("ready", ready, StringComparison.Ordinal); // still ready: it serves as a pass-through
        var metrics = await _client.GetStringAsync(new Uri(edge.AdminUri, "/metrics"));
        var healthy = metrics.Split('\n').Single(l => l.StartsWith("edgecache_disk_healthy", StringComparison.Ordinal));
        Assert.EndsWith(" 0", healthy, StringComparison.Ordinal);
        Assert.True(edge.Running, "the node is alive");
    }

    [Fact]
    public async Task Nodes_serve_on_while_nats_is_down_and_a_node_cut_off_applies_missed_purges_when_it_returns()
    {
        await using var nats = await NatsServer.StartAsync();
        await using var link = new TcpProxy(nats.Port);
        var api = PurgeApiHost.Build([], builder =>
        {
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(InvalidationTopology.ApiConfig(nats.Url));
            builder.Logging.ClearProviders();
        });
        await api.StartAsync();
        _owned.Add(api);
        var apiUri = new Uri(api.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

        var version = 1;
        _origin.Map("/f/a", ctx =>
        {
            var v = Volatile.Read(ref version);
            ctx.Response.Headers.CacheControl = "public, max-age=3600";
            ctx.Response.Headers.ETag = $"\"v{v}\"";
            if (ctx.Request.Headers.IfNoneMatch == $"\"v{v}\"")
            {
                ctx.Response.StatusCode = StatusCodes.Status304NotModified;
                return Task.CompletedTask;
            }

            return ctx.Response.WriteAsync($"v{v}");
        });
        _origin.MapStatic("/f/control", "control", ("Cache-Control", "public, max-age=3600"));

        var shield = await NodeAsync(NodeProcess.ShieldDll, "shield-p", Nats(nats.Url), $$"""  "o": { "Address": "{{_origin.Uri}}" } """);
        await shield.StartAsync(_client);
        var edge = await NodeAsync(NodeProcess.EdgeDll, "edge-p", Nats(link.Url), $$"""  "shield-p": { "Address": "{{shield.TrafficUri}}" } """);
        await edge.StartAsync(_client);
        await Topology.WaitUntilAsync(async () => (await StatusAsync(edge)).GetProperty("current").GetBoolean(), "the edge is current");
        await Topology.WaitUntilAsync(async () => (await StatusAsync(shield)).GetProperty("current").GetBoolean(), "the shield is current");

        async Task<string> Body(string path) => Encoding.UTF8.GetString((await GetAsync(edge, path)).Body);
        Assert.Equal("v1", await Body("/f/a"));
        Assert.Equal("control", await Body("/f/control"));

        // A reader runs throughout: every answer must be a 200.
        var errors = new List<string>();
        var seen = new List<(DateTime At, string Body)>();
        using var stop = new CancellationTokenSource();
        var reader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var path in new[] { "/f/a", "/f/control" })
                {
                    // Dated by when the read started: one that started before the purge returned may answer v1.
                    var started = DateTime.UtcNow;
                    var (status, body, cs) = await GetAsync(edge, path);
                    lock (errors)
                    {
                        if (status != 200) errors.Add($"{path}: {status} {cs}");
                        if (path == "/f/a") seen.Add((started, Encoding.UTF8.GetString(body)));
                    }
                }
            }
        });

        // NATS goes away: nodes stay up and ready (degraded); a purge is refused, not lost.
        await nats.StopAsync();
        await Topology.WaitUntilAsync(async () => (await ReadyAsync(edge)).Contains("degraded", StringComparison.Ordinal), "the edge says it is degraded");
        var (refused, _) = await PurgeAsync(apiUri, "{\"urls\":[\"http://www.example.com/f/a\"]}");
        Assert.Equal(503, refused);

        // NATS returns: both nodes catch up and are current again.
        await nats.StartAgainAsync();
        await Topology.WaitUntilAsync(async () => (await StatusAsync(edge)).GetProperty("current").GetBoolean() && !(await ReadyAsync(edge)).Contains("degraded", StringComparison.Ordinal), "the edge is current again");
        await Topology.WaitUntilAsync(async () => (await StatusAsync(shield)).GetProperty("current").GetBoolean(), "the shield is current again");

        // Now only the edge is cut off; the publisher changes /f/a and purges it while the edge cannot hear.
        link.Cut();
        await Topology.WaitUntilAsync(async () => !(await StatusAsync(edge)).GetProperty("current").GetBoolean(), "the cut-off edge's lease runs out");
        var bus = api.Services.GetRequiredService<EdgeCache.Nats.InvalidationBus>();
        await Topology.WaitUntilAsync(async () => (await bus.LiveNodesAsync(CancellationToken.None)).All(n => n.Node != "edge-p"), "the cut-off edge's membership entry expires");
        Interlocked.Increment(ref version);
        var (status, result) = await PurgeAsync(apiUri, "{\"urls\":[\"http://www.example.com/f/a\"],\"wait\":true,\"timeoutMs\":10000}");
        Assert.Equal(200, status);
        Assert.True(result.GetProperty("complete").GetBoolean(), result.ToString());
        var purgedAt = DateTime.UtcNow;
        var seq = result.GetProperty("sequence").GetUInt64();
        Assert.Equal("v2", await Body("/f/a"));

        // The edge returns and applies the purge it missed, from the stream.
        link.Restore();
        await Topology.WaitUntilAsync(async () => (await StatusAsync(edge)) is var s && s.GetProperty("current").GetBoolean() && s.GetProperty("appliedSeq").GetUInt64() >= seq, "the edge applies the missed purge");
        Assert.Equal("v2", await Body("/f/a"));
        Assert.Contains("EdgeCache-Edge; hit", (await GetAsync(edge, "/f/a")).CacheStatus, StringComparison.Ordinal);

        await stop.CancelAsync();
        await reader;
        lock (errors)
        {
            Assert.Empty(errors);
            Assert.DoesNotContain(seen, s => s.At > purgedAt && s.Body != "v2");
            Assert.True(seen.Count > 10, $"the reader ran ({seen.Count} reads)");
        }
    }

    private async Task<JsonElement> StatusAsync(NodeProcess node)
    {
        var json = await _client.GetStringAsync(new Uri(node.AdminUri, "/status.json"));
        return JsonDocument.Parse(json).RootElement.GetProperty("invalidation").Clone();
    }

    private async Task<long> DiskLogBytesAsync(NodeProcess node)
    {
        var metrics = await _client.GetStringAsync(new Uri(node.AdminUri, "/metrics"));
        var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith("edgecache_disk_log_size", StringComparison.Ordinal));
        return line is null ? 0 : (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<string> ReadyAsync(NodeProcess node)
    {
        using var r = await _client.GetAsync(new Uri(node.AdminUri, "/readyz"));
        return await r.Content.ReadAsStringAsync();
    }

    private async Task<(int Status, JsonElement Body)> PurgeAsync(Uri api, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(api, "/purge")) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", InvalidationTopology.AllKey);
        using var r = await _client.SendAsync(request);
        var text = await r.Content.ReadAsStringAsync();
        return ((int)r.StatusCode, text.StartsWith('{') ? JsonDocument.Parse(text).RootElement.Clone() : default);
    }


    public async Task DisposeAsync()
    {
        foreach (var o in Enumerable.Reverse(_owned))
        {
            if (o is WebApplication app) await app.StopAsync();
            await o.DisposeAsync();
        }

        await _origin.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    public void Dispose() => _client.Dispose();
}
