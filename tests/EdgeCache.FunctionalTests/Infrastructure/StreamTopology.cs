using EdgeCache.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>
/// Its own nats-server, two shields and one edge, for tests that do things to the stream itself
/// (purge it, delete it) or to membership, which the shared invalidation fixture must not see.
/// The edge reaches NATS through a <see cref="TcpProxy"/>. It discovers shields from membership;
/// its static configuration names only shield-a, the fallback.
/// </summary>
public sealed class StreamTopology() : Topology(shields: 2, edges: 1)
{
    public NatsServer Nats { get; private set; } = null!;

    public TcpProxy EdgeLink { get; private set; } = null!;

    public string DataRoot { get; } = Path.Combine(Path.GetTempPath(), "edgecache-stream-" + Guid.NewGuid().ToString("N"));

    public override async Task InitializeAsync()
    {
        Nats = await NatsServer.StartAsync();
        EdgeLink = new TcpProxy(Nats.Port);
        await base.InitializeAsync();
        await WaitUntilAllCurrentAsync();
    }

    protected override Dictionary<string, string?> ShieldConfig(string id) =>
        InvalidationTopology.WithNats(base.ShieldConfig(id), Nats.Url, Path.Combine(DataRoot, id));

    protected override Dictionary<string, string?> EdgeConfig(string id) => EdgeNodeConfig(id);

    /// <summary>An edge's configuration: shield-a in static configuration, discovery on, its own disk directory.</summary>
    public Dictionary<string, string?> EdgeNodeConfig(string id)
    {
        var c = InvalidationTopology.WithNats(base.EdgeConfig(id), EdgeLink.Url, Path.Combine(DataRoot, id));
        foreach (var key in c.Keys.Where(k => k.StartsWith("ReverseProxy:Clusters:shields:Destinations:shield-b", StringComparison.Ordinal)).ToList()) c.Remove(key);
        c["EdgeCache:ShieldDiscovery:Enabled"] = "true";
        c["EdgeCache:ShieldDiscovery:RefreshInterval"] = "00:00:00.100";
        c["EdgeCache:ShieldDiscovery:KeepLastFor"] = "00:00:00.500";
        return c;
    }

    public Task<WebApplication> StartEdgeAsync(Dictionary<string, string?> config) => StartNodeAsync(NodeRole.Edge, config);

    /// <summary>Starts one more shield (it announces itself; it is not in any edge's static configuration).</summary>
    public Task<WebApplication> StartShieldAsync(string id) => StartNodeAsync(NodeRole.Shield, ShieldConfig(id));

    /// <summary>Starts one more shield with some of its settings changed.</summary>
    public Task<WebApplication> StartShieldAsync(string id, Action<Dictionary<string, string?>> adjust)
    {
        var config = ShieldConfig(id);
        adjust(config);
        return StartNodeAsync(NodeRole.Shield, config);
    }

    /// <summary>Runs <paramref name="action"/> against JetStream directly, as an operator's tool would.</summary>
    public async Task WithJetStreamAsync(Func<NatsJSContext, Task> action)
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = Nats.Url });
        await action(new NatsJSContext(connection));
    }

    public const string Stream = "EDGECACHE_INVALIDATION";

    public Task PurgeStreamAsync() => WithJetStreamAsync(js => js.PurgeStreamAsync(Stream, new StreamPurgeRequest()).AsTask());

    public Task DeleteStreamAsync() => WithJetStreamAsync(js => js.DeleteStreamAsync(Stream).AsTask());

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await EdgeLink.DisposeAsync();
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
public sealed class StreamFixtureGroup : ICollectionFixture<StreamTopology>
{
    public const string Name = "stream";
}
