using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EdgeCache.Engine;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Hosting;
using EdgeCache.Proxy;
using EdgeCache.PurgeApi;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// Routes, per-host cache settings and purge keys reload when their file changes, with no restart
/// and no failed request; an invalid change is refused and the configuration in force stays.
/// </summary>
public sealed class ConfigurationReloadTests : IAsyncLifetime, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgecache-reload-").FullName;
    private readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, UseCookies = false }) { Timeout = TimeSpan.FromSeconds(10) };
    private TestOrigin _origin = null!;

    public async Task InitializeAsync() => _origin = await TestOrigin.StartAsync(TimeProvider.System);

    private string NodeFile(string[] hosts, string hostSettings, string pathPattern = "{**catch-all}") => $$"""
        {
          "EdgeCache": {
            "NodeId": "reload-node",
            "Listen": { "Traffic": [ "http://127.0.0.1:0" ], "Admin": "http://127.0.0.1:0" },
            "Hosts": { {{hostSettings}} }
          },
          "ReverseProxy": {
            "Routes": { "sites": { "ClusterId": "origin", "Match": { "Hosts": [ {{string.Join(", ", hosts.Select(h => $"\"{h}\""))}} ], "Path": "{{pathPattern}}" } } },
            "Clusters": { "origin": { "Destinations": { "o": { "Address": "{{_origin.Uri}}" } } } }
          }
        }
        """;

    private async Task<(HttpStatusCode Status, string CacheStatus)> GetAsync(Uri node, string host, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(node, path));
        request.Headers.Host = host;
        using var r = await _client.SendAsync(request);
        await r.Content.ReadAsByteArrayAsync();
        return (r.StatusCode, r.Header("Cache-Status"));
    }

    private async Task<JsonElement> ReloadStateAsync(Uri admin) =>
        JsonDocument.Parse(await _client.GetStringAsync(new Uri(admin, "/status.json"))).RootElement.GetProperty("configuration").Clone();


    [Fact]
    public async Task Routes_and_host_settings_reload_without_a_restart_and_an_invalid_change_is_refused()
    {
        var file = Path.Combine(_dir, "node.json");
        await File.WriteAllTextAsync(file, NodeFile(["www.example.com"], ""));
        _origin.MapStatic("/r/hot", "hot", ("Cache-Control", "max-age=600"));
        _origin.MapStatic("/r/page", "page", ("Cache-Control", "max-age=600"));
        await using var node = EdgeCacheNode.Build(NodeRole.Shield, [], b =>
        {
            b.Configuration.Sources.Clear();
            b.Configuration.AddReloadableJsonFile(file);
            b.Logging.ClearProviders();
        });
        await node.StartAsync();
        var endpoints = node.Services.GetRequiredService<NodeEndpoints>();
        var traffic = endpoints.TrafficUri();
        var admin = endpoints.AdminUri!;

        // Requests run throughout: none may fail while the file changes under them.
        var failures = new List<string>();
        using var stop = new CancellationTokenSource();
        var load = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var (status, cs) = await GetAsync(traffic, "www.example.com", "/r/hot");
                if (status != HttpStatusCode.OK) lock (failures) failures.Add($"{status} {cs}");
            }
        });

        Assert.Equal(HttpStatusCode.MisdirectedRequest, (await GetAsync(traffic, "new.example.com", "/r/page")).Status);

        // 1. A new site, with its own cache settings: served as soon as the file changes.
        await File.WriteAllTextAsync(file, NodeFile(["www.example.com", "new.example.com"], "\"new.example.com\": { \"IgnoreQueryParameters\": [ \"utm_*\" ] }"));
        await Topology.WaitUntilAsync(async () => (await GetAsync(traffic, "new.example.com", "/r/page")).Status == HttpStatusCode.OK, "the new route is served");
        await Topology.WaitUntilAsync(async () => (await ReloadStateAsync(admin)).GetProperty("reloads").GetInt32() >= 1, "the host settings are reloaded");
        await GetAsync(traffic, "new.example.com", "/r/page?utm_source=a");
        Assert.StartsWith("EdgeCache-Shield; hit", (await GetAsync(traffic, "new.example.com", "/r/page?utm_source=b")).CacheStatus, StringComparison.Ordinal);

        // 2. An invalid setting: refused, named, and the settings in force stay.
        var refusedBefore = (await ReloadStateAsync(admin)).GetProperty("refused").GetInt32();
        await File.WriteAllTextAsync(file, NodeFile(["www.example.com", "new.example.com"], "\"new.example.com\": { \"IgnoreQueryParameters\": [ \"utm_*\" ], \"ResponseTimeout\": \"-00:00:01\" }"));
        await Topology.WaitUntilAsync(async () => (await ReloadStateAsync(admin)).GetProperty("refused").GetInt32() > refusedBefore, "the invalid change is refused");
        Assert.Contains("ResponseTimeout", (await ReloadStateAsync(admin)).GetProperty("lastRefusal").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("EdgeCache-Shield; hit", (await GetAsync(traffic, "new.example.com", "/r/page?utm_source=c")).CacheStatus, StringComparison.Ordinal);

        // 3. A file that is not JSON (a half-written save): the last good contents stay; nothing is dropped.
        refusedBefore = (await ReloadStateAsync(admin)).GetProperty("refused").GetInt32();
        await File.WriteAllTextAsync(file, "{ \"EdgeCache\": { \"NodeId\": ");
        await Topology.WaitUntilAsync(async () => (await ReloadStateAsync(admin)).GetProperty("refused").GetInt32() > refusedBefore, "the unreadable file is refused");
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(traffic, "new.example.com", "/r/page")).Status);

        // 4. A route YARP cannot parse (its path pattern is cut short): YARP refuses the new routes and keeps
        //    those in force, so new.example.com, which the broken version drops, is still served.
        await File.WriteAllTextAsync(file, NodeFile(["www.example.com"], "", pathPattern: "{**catch-all"));
        await Topology.WaitUntilAsync(async () => (await ReloadStateAsync(admin)).GetProperty("reloads").GetInt32() >= 2, "the file is read again");
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(traffic, "new.example.com", "/r/page")).Status);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(traffic, "www.example.com", "/r/hot")).Status);

        await stop.CancelAsync();
        await load;
        lock (failures) Assert.Empty(failures);

        // 5. A site removed: refused at once, though its objects are still stored and were being
        //    answered by the fast hit path, which follows the routes too.
        var fastBefore = await node.FastHitsAsync();
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(traffic, "new.example.com", "/r/page")).Status);
        Assert.True(await node.FastHitsAsync() > fastBefore, "the stored page was not a fast hit before the change");
        await File.WriteAllTextAsync(file, NodeFile(["www.example.com"], ""));
        await Topology.WaitUntilAsync(async () => (await GetAsync(traffic, "new.example.com", "/r/page")).Status == HttpStatusCode.MisdirectedRequest, "the removed site is refused");
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(traffic, "www.example.com", "/r/hot")).Status);
        await node.StopAsync();
    }

    [Fact]
    public async Task Purge_keys_rotate_without_a_restart_and_an_invalid_key_change_is_refused()
    {
        var file = Path.Combine(_dir, "api.json");
        string Api(params (string Id, string Sha256)[] keys) => JsonSerializer.Serialize(new
        {
            PurgeApi = new
            {
                Listen = "http://127.0.0.1:0",
                Nats = new { NatsUrl = "nats://127.0.0.1:1", RequestTimeout = "00:00:00.200", ReconnectWait = "00:00:00.100" },
                Keys = keys.Select(k => new { k.Id, k.Sha256, Hosts = new[] { "*" } }),

                // The test polls with a key that is being removed: every poll is a failed authentication.
                AuthFailureBurst = 100_000,
            },
        });
        await File.WriteAllTextAsync(file, Api(("old", ApiKeys.Hash("old-key"))));
        await using var api = PurgeApiHost.Build([], b =>
        {
            b.Configuration.Sources.Clear();
            b.Configuration.AddReloadableJsonFile(file);
            b.Logging.ClearProviders();
        });
        await api.StartAsync();
        var uri = new Uri(api.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

        // A body with no selector: 400 once the key is accepted, 401 when it is not (nothing is published).
        async Task<int> Status(string key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(uri, "/purge")) { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var r = await _client.SendAsync(request);
            return (int)r.StatusCode;
        }

        Assert.Equal(400, await Status("old-key"));
        Assert.Equal(401, await Status("new-key"));

        // Rotation, step 1: both keys in force.
        await File.WriteAllTextAsync(file, Api(("old", ApiKeys.Hash("old-key")), ("new", ApiKeys.Hash("new-key"))));
        await Topology.WaitUntilAsync(async () => await Status("new-key") == 400, "the new key is accepted");
        Assert.Equal(400, await Status("old-key"));

        // An invalid change (a hash that is not one) is refused whole: the keys in force stay.
        var reloader = api.Services.GetRequiredService<KeyReloader>();
        var refused = reloader.Refused;
        await File.WriteAllTextAsync(file, Api(("new", ApiKeys.Hash("new-key")), ("bad", "not-a-hash")));
        await Topology.WaitUntilAsync(() => Task.FromResult(reloader.Refused > refused), "the invalid change is refused");
        Assert.Equal(400, await Status("old-key"));
        Assert.Equal(400, await Status("new-key"));

        // Rotation, step 2: the old key is removed.
        await File.WriteAllTextAsync(file, Api(("new", ApiKeys.Hash("new-key"))));
        await Topology.WaitUntilAsync(async () => await Status("old-key") == 401, "the old key is refused");
        Assert.Equal(400, await Status("new-key"));
        await api.StopAsync();
    }

    public async Task DisposeAsync()
    {
        await _origin.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    public void Dispose() => _client.Dispose();
}
