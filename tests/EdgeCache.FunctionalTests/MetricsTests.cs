using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeCache.FunctionalTests;

[Collection(CdnFixtureGroup.Name)]
public sealed class MetricsTests(Topology cdn)
{
    [Fact]
    public async Task The_admin_endpoint_exports_requests_by_cache_outcome_in_the_Prometheus_format()
    {
        var path = "/metrics-test/" + Guid.NewGuid().ToString("N");
        cdn.Origin.MapStatic(path, "x", ("Cache-Control", "max-age=60"));
        (await cdn.GetAsync(0, path)).Dispose();
        (await cdn.GetAsync(0, path)).Dispose();

        var admin = cdn.Edges[0].Services.GetRequiredService<NodeEndpoints>().AdminUri!;
        string text = "";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            // The exporter caches a scrape briefly: poll until this test's requests show.
            text = await cdn.Client.GetStringAsync(new Uri(admin, "/metrics"));
            if (text.Contains("edgecache_outcome=\"hit\"", StringComparison.Ordinal) && text.Contains("edgecache_outcome=\"miss\"", StringComparison.Ordinal)) break;
            await Task.Delay(50);
        }

        // Other test hosts share this process, and OpenTelemetry reads every meter of the name in
        // it: look for this edge's series among them.
        var hitLine = text.Split('\n').FirstOrDefault(l => l.StartsWith("edgecache_requests_total{", StringComparison.Ordinal)
            && l.Contains("edgecache_outcome=\"hit\"", StringComparison.Ordinal) && l.Contains("edgecache_tier=\"edge\"", StringComparison.Ordinal)
            && l.Contains("edgecache_detail=\"memory\"", StringComparison.Ordinal));
        Assert.NotNull(hitLine);
        Assert.True(double.Parse(hitLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Contains("edgecache_memory_size_bytes", text, StringComparison.Ordinal);
        Assert.Contains("http_client_request_duration_seconds_bucket", text, StringComparison.Ordinal); // upstream latency
        Assert.Contains("http_server_request_duration_seconds_bucket", text, StringComparison.Ordinal);
        // The runtime's own meter: GC pauses and thread-pool queueing behind a slow request or purge.
        Assert.Contains("dotnet_gc_pause_time_seconds_total", text, StringComparison.Ordinal);
        Assert.Contains("dotnet_thread_pool_queue_length", text, StringComparison.Ordinal);

        GC.Collect(0);
        using var status = System.Text.Json.JsonDocument.Parse(await cdn.Client.GetStringAsync(new Uri(admin, "/status.json")));
        var gc = status.RootElement.GetProperty("gc");
        Assert.Contains(gc.GetProperty("mode").GetString(), (string[])["server", "workstation"]);
        Assert.True(gc.GetProperty("lastEphemeral").GetProperty("index").GetInt64() > 0, "the latest ephemeral collection is reported");

        // Metrics live on the admin port only: the traffic port treats /metrics as a site path.
        using var traffic = await cdn.GetAsync(0, "/metrics", host: "nobody.example.net");
        Assert.Equal(System.Net.HttpStatusCode.MisdirectedRequest, traffic.StatusCode);
    }
}

/// <summary>One shield, one edge with the access log on and room for one host's own metric series.</summary>
public sealed class ObservedTopology : Topology
{
    public ObservedTopology() : base(shields: 1, edges: 1)
    {
    }

    public System.Collections.Concurrent.ConcurrentQueue<string> AccessLines { get; } = new();

    protected override Dictionary<string, string?> EdgeConfig(string id)
    {
        var c = base.EdgeConfig(id);
        c["EdgeCache:AccessLog"] = "true";
        c["EdgeCache:MetricsHostLimit"] = "1";
        return c;
    }

    // OpenTelemetry listens to every meter of a name in the process, and here the shield runs in
    // the same process as the edge: give it the same limit so the export shows one rule.
    protected override Dictionary<string, string?> ShieldConfig(string id)
    {
        var c = base.ShieldConfig(id);
        c["EdgeCache:MetricsHostLimit"] = "1";
        return c;
    }

    protected override void ConfigureNode(NodeRole role, Microsoft.AspNetCore.Builder.WebApplicationBuilder builder)
    {
        if (role != NodeRole.Edge) return;
        builder.Logging.AddProvider(new LineSink(AccessLines));
        builder.Logging.AddFilter("EdgeCache.AccessLog", Microsoft.Extensions.Logging.LogLevel.Information);
    }

    private sealed class LineSink(System.Collections.Concurrent.ConcurrentQueue<string> lines) : Microsoft.Extensions.Logging.ILoggerProvider
    {
        public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => new Sink(categoryName, lines);

        public void Dispose()
        {
        }

        private sealed class Sink(string category, System.Collections.Concurrent.ConcurrentQueue<string> lines) : Microsoft.Extensions.Logging.ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => category == "EdgeCache.AccessLog" && logLevel >= Microsoft.Extensions.Logging.LogLevel.Information;

            public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel)) lines.Enqueue(formatter(state, exception));
            }
        }
    }
}

public sealed class PerHostMetricsAndAccessLogTests(ObservedTopology cdn) : IClassFixture<ObservedTopology>
{
    [Fact]
    public async Task Hosts_beyond_the_limit_share_one_series_and_the_access_log_omits_query_strings()
    {
        cdn.Origin.MapStatic("/observed", "x", ("Cache-Control", "max-age=60"));
        (await cdn.GetAsync(0, "/observed?token=secret123")).Dispose();
        (await cdn.GetAsync(0, "/observed?token=secret123")).Dispose();
        (await cdn.GetAsync(0, "/observed", host: "img.example.com")).Dispose();

        var admin = cdn.Edges[0].Services.GetRequiredService<NodeEndpoints>().AdminUri!;
        var text = "";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!text.Contains("edgecache_host=\"other\"", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            text = await cdn.Client.GetStringAsync(new Uri(admin, "/metrics"));
            await Task.Delay(50);
        }

        var lines = text.Split('\n').Where(l => l.StartsWith("edgecache_host_requests_total{", StringComparison.Ordinal)).ToList();
        Assert.Contains(lines, l => l.Contains("edgecache_host=\"www.example.com\"", StringComparison.Ordinal) && l.Contains("edgecache_hit=\"true\"", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("edgecache_host=\"other\"", StringComparison.Ordinal));
        Assert.True(!lines.Any(l => l.Contains("img.example.com", StringComparison.Ordinal)), string.Join("\n", lines));

        var log = cdn.AccessLines.ToArray();
        Assert.Equal(3, log.Length);
        Assert.Contains("\"GET www.example.com/observed HTTP/1.1\" 200 1", log[1], StringComparison.Ordinal);
        Assert.Contains("EdgeCache-Edge; hit", log[1], StringComparison.Ordinal);
        Assert.All(log, l => Assert.DoesNotContain("secret123", l, StringComparison.Ordinal));
    }
}
