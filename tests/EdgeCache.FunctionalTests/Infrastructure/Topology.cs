using EdgeCache.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>
/// A real local CDN on loopback: a test origin, shields and edges, each a Kestrel host on port 0.
/// Cache time is a shared FakeTimeProvider (tests move it; sockets and YARP keep real time).
/// Health-check intervals are sub-second so failover tests finish quickly.
/// </summary>
public class Topology : IAsyncLifetime
{
    public const string Site = "www.example.com";
    public const string CookieSite = "cookies.example.com";
    public const string IgnoreSite = "ignore.example.com";
    public const string SlowSite = "slow.example.com";

    /// <summary>Edges send both forwarding formats for this host and trust X-Forwarded-For from loopback proxies.</summary>
    public const string ForwardedSite = "forwarded.example.com";
    public const string ErrorsSite = "errors.example.com";

    /// <summary>Both tiers store POST responses as their target's GET response here (<c>StorePostResponses</c>).</summary>
    public const string PostsSite = "posts.example.com";

    /// <summary>Edges give this host the opposite of their node-wide <c>StripCdnCacheControl</c>
    /// (<c>Hosts:&lt;host&gt;:StripCdnCacheControl</c>): stripped here, passed on in <c>StrippingTopology</c>.</summary>
    public const string StripOverrideSite = "strip-override.example.com";

    /// <summary>Edges send 103 Early Hints for this host (<c>Hosts:&lt;host&gt;:EarlyHints</c>).</summary>
    public const string HintsSite = "hints.example.com";

    /// <summary>Both tiers compress this host's responses (<c>Hosts:&lt;host&gt;:Compression:Enabled</c>); shields make the encodings.</summary>
    public const string CompressSite = "compress.example.com";

    /// <summary>Both tiers compress this host's responses and edges make the encodings (<c>Compression:Produce</c>, as for
    /// edges that fetch from origins): a representation is made again at the high level after 3 hits
    /// (<c>Compression:RecompressAfterHits</c>). Edges queue one re-encode at most (<c>Recompress:QueueLength</c>).</summary>
    public const string RecompressSite = "recompress.example.com";

    /// <summary>Both tiers make image variants under <c>/_img/</c> here (<c>Hosts:&lt;host&gt;:Images:Enabled</c>); shields make
    /// them, with a pixel limit of 4 million so a test's decompression bomb is small to make.</summary>
    public const string ImageSite = "img.example.com";

    /// <summary>The tiers' shared secrets (the current one and the one being rotated out).</summary>
    public static readonly string[] TierSecrets = ["tier-secret-current-0123456789", "tier-secret-previous-0123456789"];

    private readonly int _shieldCount;
    private readonly int _edgeCount;

    public Topology() : this(shields: 2, edges: 2)
    {
    }

    protected Topology(int shields, int edges)
    {
        _shieldCount = shields;
        _edgeCount = edges;
    }

    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    public TestOrigin Origin { get; private set; } = null!;

    public List<WebApplication> Shields { get; } = [];

    public List<WebApplication> Edges { get; } = [];

    public HttpClient Client { get; } = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, AutomaticDecompression = System.Net.DecompressionMethods.None, UseCookies = false })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    public TimeSpan HealthInterval { get; } = TimeSpan.FromMilliseconds(250);

    public Uri EdgeUri(int i) => Edges[i].Services.GetRequiredService<NodeEndpoints>().TrafficUri();

    public Uri ShieldUri(int i) => Shields[i].Services.GetRequiredService<NodeEndpoints>().TrafficUri();

    /// <summary>An edge's engine, only for what a node offers no outside way to do (write its disk tier's
    /// pending writes now; drop only the memory copy of an object). Tests read what a node reports through
    /// <see cref="NodeProbe"/>, not through this.</summary>
    public CacheEngine EdgeEngine(int i) => Edges[i].Services.GetRequiredService<CacheEngine>();

    public virtual async Task InitializeAsync()
    {
        Origin = await TestOrigin.StartAsync(Clock);
        for (var i = 0; i < _shieldCount; i++)
        {
            var id = "shield-" + (char)('a' + i);
            Shields.Add(await StartNodeAsync(NodeRole.Shield, ShieldConfig(id)));
        }

        for (var i = 0; i < _edgeCount; i++)
        {
            Edges.Add(await StartNodeAsync(NodeRole.Edge, EdgeConfig("edge-" + (i + 1))));
        }
    }

    protected static Dictionary<string, string?> Common(string id) => new()
    {
        ["EdgeCache:NodeId"] = id,
        ["EdgeCache:Listen:Traffic:0"] = "http://127.0.0.1:0",
        ["EdgeCache:Listen:Admin"] = "http://127.0.0.1:0",
        ["EdgeCache:MemoryBudgetBytes"] = (64 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["EdgeCache:ShutdownTimeout"] = "00:00:01",
        ["EdgeCache:StatusSampleInterval"] = "00:00:00.100",
        [$"EdgeCache:Hosts:{CookieSite}:StoreSetCookie"] = "true",
        [$"EdgeCache:Hosts:{IgnoreSite}:ClientNoCache"] = "Ignore",
        [$"EdgeCache:Hosts:{SlowSite}:ResponseTimeout"] = "00:00:00.300",
        [$"EdgeCache:Hosts:{SlowSite}:TransferTimeout"] = "00:00:01",
        [$"EdgeCache:Hosts:{ForwardedSite}:Forwarding"] = "Both",
        [$"EdgeCache:Hosts:{ForwardedSite}:TrustedProxies:0"] = "127.0.0.0/8",
        [$"EdgeCache:Hosts:{ErrorsSite}:StoreErrorStatuses"] = "true",
        [$"EdgeCache:Hosts:{HintsSite}:EarlyHints"] = "true",
        [$"EdgeCache:Hosts:{PostsSite}:StorePostResponses"] = "true",
        [$"EdgeCache:Hosts:{CompressSite}:Compression:Enabled"] = "true",
        [$"EdgeCache:Hosts:{RecompressSite}:Compression:Enabled"] = "true",
        [$"EdgeCache:Hosts:{RecompressSite}:Compression:RecompressAfterHits"] = "3",
        [$"EdgeCache:Hosts:{ImageSite}:Images:Enabled"] = "true",
        [$"EdgeCache:Hosts:{ImageSite}:Images:MaxPixels"] = "4000000",
        [$"EdgeCache:Hosts:{ImageSite}:Images:MaxVariantsPerOriginal"] = "6",
        ["EdgeCache:TierSecrets:0"] = TierSecrets[0],
        ["EdgeCache:TierSecrets:1"] = TierSecrets[1],
        ["EdgeCache:Defaults:ConnectTimeout"] = "00:00:01",
        ["EdgeCache:Defaults:ResponseTimeout"] = "00:00:05",
    };

    protected virtual Dictionary<string, string?> ShieldConfig(string id)
    {
        var c = Common(id);
        c[$"EdgeCache:Hosts:{RecompressSite}:Compression:Produce"] = "false";
        c["ReverseProxy:Routes:sites:ClusterId"] = "origin";
        c["ReverseProxy:Routes:sites:Match:Path"] = "{**catch-all}";
        for (var i = 0; i < Hosts.Length; i++) c[$"ReverseProxy:Routes:sites:Match:Hosts:{i}"] = Hosts[i];
        c["ReverseProxy:Clusters:origin:Destinations:origin:Address"] = Origin.Uri.ToString();
        return c;
    }

    protected virtual Dictionary<string, string?> EdgeConfig(string id)
    {
        var c = Common(id);
        c[$"EdgeCache:Hosts:{StripOverrideSite}:StripCdnCacheControl"] = "true";
        c[$"EdgeCache:Hosts:{RecompressSite}:Compression:Produce"] = "true";
        c["EdgeCache:Recompress:QueueLength"] = "1";
        c["ReverseProxy:Routes:sites:ClusterId"] = "shields";
        c["ReverseProxy:Routes:sites:Match:Path"] = "{**catch-all}";
        for (var i = 0; i < Hosts.Length; i++) c[$"ReverseProxy:Routes:sites:Match:Hosts:{i}"] = Hosts[i];
        c["ReverseProxy:Clusters:shields:LoadBalancingPolicy"] = ConsistentHashLoadBalancingPolicy.PolicyName;
        c["ReverseProxy:Clusters:shields:HealthCheck:AvailableDestinationsPolicy"] = "HealthyOrPanic";
        c["ReverseProxy:Clusters:shields:HealthCheck:Active:Enabled"] = "true";
        c["ReverseProxy:Clusters:shields:HealthCheck:Active:Interval"] = HealthInterval.ToString();
        c["ReverseProxy:Clusters:shields:HealthCheck:Active:Timeout"] = HealthInterval.ToString();
        c["ReverseProxy:Clusters:shields:HealthCheck:Active:Policy"] = "ConsecutiveFailures";
        c["ReverseProxy:Clusters:shields:HealthCheck:Active:Path"] = "/readyz";
        c["ReverseProxy:Clusters:shields:HealthCheck:Passive:Enabled"] = "true";
        c["ReverseProxy:Clusters:shields:HealthCheck:Passive:Policy"] = "TransportFailureRate";
        c["ReverseProxy:Clusters:shields:HealthCheck:Passive:ReactivationPeriod"] = "00:00:02";
        for (var i = 0; i < Shields.Count; i++)
        {
            var endpoints = Shields[i].Services.GetRequiredService<NodeEndpoints>();
            var name = "shield-" + (char)('a' + i);
            c[$"ReverseProxy:Clusters:shields:Destinations:{name}:Address"] = endpoints.TrafficUri().ToString();
            c[$"ReverseProxy:Clusters:shields:Destinations:{name}:Health"] = endpoints.AdminUri!.ToString();
        }

        return c;
    }

    protected static readonly string[] Hosts = [Site, CookieSite, IgnoreSite, SlowSite, ForwardedSite, ErrorsSite, StripOverrideSite, HintsSite, PostsSite, CompressSite, RecompressSite, ImageSite];

    protected async Task<WebApplication> StartNodeAsync(NodeRole role, Dictionary<string, string?> config, Action<WebApplicationBuilder>? configure = null)
    {
        var app = EdgeCacheNode.Build(role, [], builder =>
        {
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(config);
            builder.Logging.ClearProviders();
            if (Environment.GetEnvironmentVariable("EDGECACHE_TEST_LOGS") == "1")
            {
                // For diagnosing a failure: the nodes' own logs on the test run's console.
                builder.Logging.AddSimpleConsole();
                builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
            }

            builder.Services.AddSingleton(new CacheClock(Clock));
            ConfigureNode(role, builder);
            configure?.Invoke(builder);
        });
        await app.StartAsync();
        return app;
    }

    /// <summary>A hook for fixtures that need more from a node (a log sink, say).</summary>
    protected virtual void ConfigureNode(NodeRole role, WebApplicationBuilder builder)
    {
    }

    /// <summary>Sends a request to an edge with the given Host.</summary>
    public Task<HttpResponseMessage> GetAsync(int edge, string pathAndQuery, string host = Site, Action<HttpRequestMessage>? configure = null, HttpMethod? method = null)
    {
        var request = new HttpRequestMessage(method ?? HttpMethod.Get, new Uri(EdgeUri(edge), pathAndQuery));
        request.Headers.Host = host;
        configure?.Invoke(request);
        return Client.SendAsync(request);
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or the deadline passes.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan? timeout = null, string? because = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("Condition not met in time: " + because);
            await Task.Delay(10);
        }
    }

    /// <summary>Polls an asynchronous <paramref name="condition"/> (an HTTP probe, say; a refused connection
    /// counts as not yet, and so does a read that timed out, such as a membership read past
    /// Invalidation:RequestTimeout) until it holds or the deadline passes.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string because, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            try
            {
                if (await condition()) return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TimeoutException)
            {
            }

            if (DateTime.UtcNow > deadline) throw new TimeoutException("Condition not met in time: " + because);
            await Task.Delay(25);
        }
    }

    /// <summary>Waits until every edge and shield says in /status.json that it is current with the invalidation stream.</summary>
    protected Task WaitUntilAllCurrentAsync() =>
        WaitUntilAsync(
            async () =>
            {
                foreach (var n in Edges.Concat(Shields))
                {
                    if (!await n.StatusValueAsync<bool>("invalidation", "current")) return false;
                }

                return true;
            },
            "nodes caught up",
            TimeSpan.FromSeconds(15));

    public virtual async Task DisposeAsync()
    {
        foreach (var app in Edges.Concat(Shields))
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        await Origin.DisposeAsync();
        Client.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class CdnFixtureGroup : ICollectionFixture<Topology>
{
    public const string Name = "cdn";
}
