using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using Microsoft.Extensions.DependencyInjection;

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

        var hitLine = text.Split('\n').FirstOrDefault(l => l.StartsWith("edgecache_requests_total{", StringComparison.Ordinal)
            && l.Contains("edgecache_outcome=\"hit\"", StringComparison.Ordinal) && l.Contains("edgecache_tier=\"edge\"", StringComparison.Ordinal));
        Assert.NotNull(hitLine);
        Assert.Contains("edgecache_detail=\"memory\"", hitLine, StringComparison.Ordinal);
        Assert.True(double.Parse(hitLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Contains("edgecache_memory_size_bytes", text, StringComparison.Ordinal);
        Assert.Contains("http_client_request_duration_seconds_bucket", text, StringComparison.Ordinal); // upstream latency
        Assert.Contains("http_server_request_duration_seconds_bucket", text, StringComparison.Ordinal);

        // Metrics live on the admin port only: the traffic port treats /metrics as a site path.
        using var traffic = await cdn.GetAsync(0, "/metrics", host: "nobody.example.net");
        Assert.Equal(System.Net.HttpStatusCode.MisdirectedRequest, traffic.StatusCode);
    }
}
