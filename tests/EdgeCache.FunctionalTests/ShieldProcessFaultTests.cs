using System.Net;
using EdgeCache.Engine;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// Shields as real processes (the Release-independent build of origin-shield/), one in-process edge:
/// a shield is killed with SIGKILL under load, then started again on the same port.
/// </summary>
public sealed class ShieldProcessFaultTests : IAsyncLifetime, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgecache-shieldproc-").FullName;
    private readonly int[] _ports = [NodeProcess.FreePort(), NodeProcess.FreePort()];
    private readonly int[] _adminPorts = [NodeProcess.FreePort(), NodeProcess.FreePort()];
    private readonly NodeProcess?[] _shields = new NodeProcess?[2];
    private TestOrigin _origin = null!;
    private WebApplication _edge = null!;
    private readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(20) };

    private static readonly string[] Ids = ["shield-a", "shield-b"];

    public async Task InitializeAsync()
    {
        _origin = await TestOrigin.StartAsync(TimeProvider.System);
        try
        {
            for (var i = 0; i < 2; i++) await StartShieldAsync(i);
        }
        catch
        {
            // xunit does not dispose a class whose InitializeAsync failed: kill what started, or it outlives the run.
            foreach (var p in _shields)
            {
                if (p is not null) await p.DisposeAsync();
            }

            throw;
        }
        var config = new Dictionary<string, string?>
        {
            ["EdgeCache:NodeId"] = "edge-1",
            ["EdgeCache:Listen:Traffic:0"] = "http://127.0.0.1:0",
            ["EdgeCache:Defaults:ConnectTimeout"] = "00:00:01",
            ["ReverseProxy:Routes:all:ClusterId"] = "shields",
            ["ReverseProxy:Routes:all:Match:Path"] = "{**catch-all}",
            ["ReverseProxy:Clusters:shields:LoadBalancingPolicy"] = ConsistentHashLoadBalancingPolicy.PolicyName,
            ["ReverseProxy:Clusters:shields:HealthCheck:AvailableDestinationsPolicy"] = "HealthyOrPanic",
            ["ReverseProxy:Clusters:shields:HealthCheck:Active:Enabled"] = "true",
            ["ReverseProxy:Clusters:shields:HealthCheck:Active:Interval"] = "00:00:00.250",
            ["ReverseProxy:Clusters:shields:HealthCheck:Active:Timeout"] = "00:00:00.250",
            ["ReverseProxy:Clusters:shields:HealthCheck:Active:Policy"] = "ConsecutiveFailures",
            ["ReverseProxy:Clusters:shields:HealthCheck:Active:Path"] = "/readyz",
            ["ReverseProxy:Clusters:shields:HealthCheck:Passive:Enabled"] = "true",
            ["ReverseProxy:Clusters:shields:HealthCheck:Passive:Policy"] = "TransportFailureRate",
            ["ReverseProxy:Clusters:shields:HealthCheck:Passive:ReactivationPeriod"] = "00:00:01",
        };
        for (var i = 0; i < 2; i++)
        {
            config[$"ReverseProxy:Clusters:shields:Destinations:{Ids[i]}:Address"] = $"http://127.0.0.1:{_ports[i]}/";
            config[$"ReverseProxy:Clusters:shields:Destinations:{Ids[i]}:Health"] = $"http://127.0.0.1:{_adminPorts[i]}/";
        }

        // TransportFailureRate keeps a shield it marked down out for its detection window (60 s by
        // default) or ReactivationPeriod, whichever is longer: a short window (set as an operator
        // would, in configuration), so a restarted shield's keys come back within the test.
        config["EdgeCache:TransportFailureRate:DetectionWindowSize"] = "00:00:01";
        _edge = EdgeCacheNode.Build(NodeRole.Edge, [], b =>
        {
            b.Configuration.Sources.Clear();
            b.Configuration.AddInMemoryCollection(config);
            b.Logging.ClearProviders();
        });
        await _edge.StartAsync();
    }

    private async Task StartShieldAsync(int i)
    {
        var file = Path.Combine(_dir, Ids[i] + ".json");
        await File.WriteAllTextAsync(file, $$"""
            { "EdgeCache": { "NodeId": "{{Ids[i]}}", "Listen": { "Traffic": [ "http://127.0.0.1:{{_ports[i]}}" ], "Admin": "http://127.0.0.1:{{_adminPorts[i]}}" } },
              "ReverseProxy": { "Routes": { "all": { "ClusterId": "origin", "Match": { "Path": "{**catch-all}" } } },
                                "Clusters": { "origin": { "Destinations": { "o": { "Address": "{{_origin.Uri}}" } } } } },
              "Logging": { "LogLevel": { "Default": "Warning" } } }
            """);
        _shields[i] ??= new NodeProcess(NodeProcess.ShieldDll, file, _ports[i], _adminPorts[i]);
        await _shields[i]!.StartAsync(_client);
    }

    private Uri EdgeUri => _edge.Services.GetRequiredService<NodeEndpoints>().TrafficUri();

    private async Task<(HttpStatusCode Status, string Shield)> Get(string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(EdgeUri, path));
        request.Headers.Host = Topology.Site;
        try
        {
            using var r = await _client.SendAsync(request);
            await r.Content.ReadAsByteArrayAsync();
            var via = r.Headers.TryGetValues("Via", out var v) ? string.Join(", ", v) : "";
            return (r.StatusCode, via.Split(", ")[0].Split(' ').Last());
        }
        catch (HttpRequestException)
        {
            return (0, "");
        }
    }

    private static string Owner(string path, IEnumerable<string> ids)
    {
        var list = ids.ToArray();
        var key = CacheKey.Build("http", Topology.Site, path, HostCachePolicy.Default);
        return list[RendezvousHash.Pick(RendezvousHash.HashKey(key), list.Select(RendezvousHash.HashNode).ToArray())];
    }

    [Fact]
    public async Task A_shield_killed_under_load_costs_no_errors_and_its_keys_come_back_when_it_returns()
    {
        for (var i = 0; i < 400; i++) _origin.MapStatic($"/p/{i}", "object " + i, ("Cache-Control", "max-age=600"));
        for (var i = 0; i < 40; i++) Assert.Equal(HttpStatusCode.OK, (await Get($"/p/{i}")).Status);

        // Load: four workers alternate cached objects and new misses; shield-a dies half way.
        var cachedErrors = 0;
        var missErrors = 0;
        var next = 40;
        var done = 0;
        var killed = false;
        async Task Worker()
        {
            for (var n = 0; n < 60; n++)
            {
                var cached = await Get($"/p/{n % 40}");
                if (cached.Status != HttpStatusCode.OK) Interlocked.Increment(ref cachedErrors);
                var miss = await Get($"/p/{Interlocked.Increment(ref next) % 400}");
                if (miss.Status != HttpStatusCode.OK) Interlocked.Increment(ref missErrors);
                if (Interlocked.Increment(ref done) == 100 && !killed)
                {
                    killed = true;
                    _ = _shields[0]!.KillAsync(); // SIGKILL
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Worker()));
        Assert.True(killed);
        Assert.Equal(0, cachedErrors);
        // The bound: requests in flight to the dead shield (at most one per worker), after one retry.
        Assert.InRange(missErrors, 0, 4);

        // shield-a returns on the same port: its keys move back once the health check sees it.
        await StartShieldAsync(0);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        string shield;
        var attempt = 0;
        do
        {
            string path;
            do
            {
                path = $"/back/{attempt++}";
            }
            while (Owner(path, Ids) != "shield-a");
            _origin.MapStatic(path, "back", ("Cache-Control", "max-age=600"));
            shield = (await Get(path)).Shield;
        }
        while (shield != "shield-a" && DateTime.UtcNow < deadline);
        Assert.Equal("shield-a", shield);
    }

    public async Task DisposeAsync()
    {
        foreach (var p in _shields)
        {
            if (p is not null) await p.DisposeAsync();
        }

        await _edge.StopAsync();
        await _edge.DisposeAsync();
        await _origin.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    public void Dispose() => _client.Dispose();
}
