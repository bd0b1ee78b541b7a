using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EdgeCache.Proxy;
using EdgeCache.PurgeApi;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>
/// The local CDN with invalidation: a real nats-server with JetStream, the purge API, two shields
/// and two edges with disk tiers. edge-2 reaches NATS through a <see cref="TcpProxy"/> so a test can
/// cut it off alone. Intervals are sub-second: announce 100 ms, membership 3 s, lease 2 s (a lease must end before a membership entry can expire).
/// </summary>
public sealed class InvalidationTopology : Topology
{
    public const string AllKey = "test-all-hosts-key";
    public const string SiteKey = "test-www-only-key";
    public const string LimitedKey = "test-limited-key";

    /// <summary>The key a publisher's application instances (the HybridCache backplane) use, and another publisher's.</summary>
    public const string AppKey = "test-app-key";
    public const string OtherAppKey = "test-other-app-key";

    /// <summary>How long an application instance stays registered after its last poll (BackplaneTests).</summary>
    public static readonly TimeSpan InstanceLease = TimeSpan.FromSeconds(3);

    public NatsServer Nats { get; private set; } = null!;

    public TcpProxy Edge2Link { get; private set; } = null!;

    public WebApplication Api { get; private set; } = null!;

    public Uri ApiUri { get; private set; } = null!;

    public string DataRoot { get; } = Path.Combine(Path.GetTempPath(), "edgecache-inv-" + Guid.NewGuid().ToString("N"));

    public override async Task InitializeAsync()
    {
        Nats = await NatsServer.StartAsync();
        Edge2Link = new TcpProxy(Nats.Port);
        (Api, ApiUri) = await StartApiAsync(Nats.Url);
        await base.InitializeAsync();

        // Every node is current and announced before tests start.
        await WaitUntilAllCurrentAsync();
        await WaitForMembersAsync(4);
    }

    /// <summary>A purge API on loopback (<see cref="ApiConfig"/>), started and following the nodes' acks.</summary>
    public static async Task<(WebApplication Api, Uri Uri)> StartApiAsync(string natsUrl)
    {
        var api = PurgeApiHost.Build([], builder =>
        {
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(ApiConfig(natsUrl));
            builder.Logging.ClearProviders();
        });
        await api.StartAsync();
        var uri = new Uri(api.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        await WaitUntilAsync(() => api.Services.GetRequiredService<AckListener>().Ready, TimeSpan.FromSeconds(15), "the purge API connects to NATS");
        return (api, uri);
    }

    public static Dictionary<string, string?> ApiConfig(string natsUrl) => new()
    {
        ["PurgeApi:Listen"] = "http://127.0.0.1:0",
        ["PurgeApi:Nats:NatsUrl"] = natsUrl,
        ["PurgeApi:Nats:MembershipTtl"] = "00:00:03",
        ["PurgeApi:Nats:AnnounceInterval"] = "00:00:00.100",
        ["PurgeApi:Nats:RequestTimeout"] = "00:00:01",
        ["PurgeApi:Nats:ReconnectWait"] = "00:00:00.100",
        ["PurgeApi:MaxBodyBytes"] = "4096",
        ["PurgeApi:MaxSelectors"] = "50",
        ["PurgeApi:Keys:0:Id"] = "all",
        ["PurgeApi:Keys:0:Sha256"] = ApiKeys.Hash(AllKey),
        ["PurgeApi:Keys:0:Hosts:0"] = "*",
        ["PurgeApi:Keys:1:Id"] = "www",
        ["PurgeApi:Keys:1:Sha256"] = ApiKeys.Hash(SiteKey),
        ["PurgeApi:Keys:1:Hosts:0"] = Site,
        ["PurgeApi:Keys:2:Id"] = "limited",
        ["PurgeApi:Keys:2:Sha256"] = ApiKeys.Hash(LimitedKey),
        ["PurgeApi:Keys:2:Hosts:0"] = "img.example.com",
        ["PurgeApi:Keys:2:RateBurst"] = "3",
        ["PurgeApi:Keys:2:RatePerSecond"] = "1",

        // Warming: the nodes' current tier secret; at most 10 URLs a call; bursts of 40 URLs per key, earned back at 1 a second.
        ["PurgeApi:Warm:TierSecret"] = TierSecrets[0],
        ["PurgeApi:Warm:MaxUrls"] = "10",
        ["PurgeApi:Warm:UrlBurst"] = "40",
        ["PurgeApi:Warm:UrlsPerSecond"] = "1",
        ["PurgeApi:Keys:3:Id"] = "apps",
        ["PurgeApi:Keys:3:Sha256"] = ApiKeys.Hash(AppKey),
        ["PurgeApi:Keys:3:Hosts:0"] = Site,
        ["PurgeApi:Keys:4:Id"] = "other-apps",
        ["PurgeApi:Keys:4:Sha256"] = ApiKeys.Hash(OtherAppKey),
        ["PurgeApi:Keys:4:Hosts:0"] = Site,
        ["PurgeApi:Feed:InstanceLease"] = InstanceLease.ToString(),
        ["PurgeApi:Feed:DefaultPollTimeout"] = "00:00:01",
        ["PurgeApi:Feed:ConfirmInterval"] = "00:00:00.200",
        ["PurgeApi:Feed:Lease"] = "00:00:02",
    };

    private Dictionary<string, string?> WithInvalidation(Dictionary<string, string?> c, string id) =>
        WithNats(c, id == "edge-2" ? Edge2Link.Url : Nats.Url, Path.Combine(DataRoot, id));

    /// <summary>Sub-second invalidation settings and a small disk tier, for any fixture's nodes.</summary>
    public static Dictionary<string, string?> WithNats(Dictionary<string, string?> c, string natsUrl, string diskDirectory)
    {
        c["EdgeCache:Invalidation:NatsUrl"] = natsUrl;
        c["EdgeCache:Invalidation:AnnounceInterval"] = "00:00:00.100";
        c["EdgeCache:Invalidation:MembershipTtl"] = "00:00:03";
        c["EdgeCache:Invalidation:Lease"] = "00:00:02";
        c["EdgeCache:Invalidation:RequestTimeout"] = "00:00:01";
        c["EdgeCache:Invalidation:ReconnectWait"] = "00:00:00.100";
        c["EdgeCache:Disk:Directory"] = diskDirectory;
        c["EdgeCache:Disk:BudgetBytes"] = (256L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        c["EdgeCache:Disk:LogMemoryBytes"] = (16L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        c["EdgeCache:Disk:MaxObjectBytes"] = (16L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return c;
    }

    protected override Dictionary<string, string?> ShieldConfig(string id) => WithInvalidation(base.ShieldConfig(id), id);

    protected override Dictionary<string, string?> EdgeConfig(string id) => WithInvalidation(base.EdgeConfig(id), id);

    /// <summary>A configuration for an extra edge (restart tests), with its own disk directory.</summary>
    public Dictionary<string, string?> ExtraEdgeConfig(string id) => WithInvalidation(base.EdgeConfig(id), id);

    public Task<WebApplication> StartExtraNodeAsync(Dictionary<string, string?> config) => StartNodeAsync(NodeRole.Edge, config);

    /// <summary>An extra edge whose lease runs on <paramref name="leaseClock"/> (a test moves it by hand) and
    /// that reaches NATS at <paramref name="natsUrl"/> (a <see cref="TcpProxy"/>, say).</summary>
    public Task<WebApplication> StartExtraNodeAsync(Dictionary<string, string?> config, string natsUrl, TimeProvider leaseClock)
    {
        config["EdgeCache:Invalidation:NatsUrl"] = natsUrl;
        return StartNodeAsync(NodeRole.Edge, config, builder => builder.Services.AddSingleton(new EdgeCache.Proxy.Invalidation.InvalidationClock(leaseClock)));
    }

    /// <summary>POSTs a purge body with a key; returns the status and the parsed JSON (null when not JSON).</summary>
    public async Task<(int Status, JsonElement Body, string? ContentType)> PostAsync(string path, string json, string? key = AllKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(ApiUri, path))
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var body = text.Length > 0 && text[0] == '{' ? JsonDocument.Parse(text).RootElement.Clone() : default;
        return ((int)response.StatusCode, body, response.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>Purges with wait and checks that every live node applied it.</summary>
    public async Task<JsonElement> PurgeAsync(string json, string path = "/purge")
    {
        var body = json.TrimEnd('}').TrimEnd() + (json.Trim() == "{}" ? "" : ",") + "\"wait\":true,\"timeoutMs\":10000}";
        var (status, result, _) = await PostAsync(path, body);
        Assert.Equal(200, status);
        Assert.True(result.GetProperty("complete").GetBoolean(), "purge complete: " + result);
        return result;
    }

    public async Task WaitForMembersAsync(int count)
    {
        // The bucket, and the API's own view of it, which purges take their nodes from: it dates an entry by
        // its arrival at the API, so it can list an expired node a few milliseconds longer than NATS does.
        var bus = Api.Services.GetRequiredService<EdgeCache.Nats.InvalidationBus>();
        var view = Api.Services.GetRequiredService<EdgeCache.PurgeApi.MembershipView>();
        await WaitUntilAsync(
            async () => (await bus.LiveNodesAsync(CancellationToken.None)).Count == count && (view.Live()?.Count ?? count) == count,
            $"membership reaches {count} nodes",
            TimeSpan.FromSeconds(15));
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Api.StopAsync();
        await Api.DisposeAsync();
        await Edge2Link.DisposeAsync();
        await Nats.DisposeAsync();
        try
        {
            Directory.Delete(DataRoot, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

[CollectionDefinition(Name)]
public sealed class InvalidationFixtureGroup : ICollectionFixture<InvalidationTopology>
{
    public const string Name = "invalidation";
}
