using EdgeCache.Nats;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Configuration;

namespace EdgeCache.Proxy.Invalidation;

/// <summary>
/// Edges: replaces the shield cluster's destinations with the shields that announce themselves in
/// NATS membership (each entry names the shield's traffic and admin URLs), and falls back to the
/// statically configured destinations while membership names none or cannot be read.
/// </summary>
/// <remarks>
/// YARP rebuilds its clusters when any configuration provider signals a change, running every
/// <see cref="IProxyConfigFilter"/> over the clusters again. This class is both: a provider with no
/// routes or clusters of its own, whose change token fires when the live shield set changes, and a
/// filter that swaps in that set on the configured cluster. Destination ids are the shields' node
/// ids, the same names static configuration uses, so the consistent hash does not move when a
/// cluster switches between the two sources.
/// </remarks>
public sealed class ShieldDiscovery(CacheEngine engine, InvalidationService invalidation, ILogger<ShieldDiscovery> logger)
    : BackgroundService, IProxyConfigProvider, IProxyConfigFilter
{
    private readonly ShieldDiscoveryOptions _options = engine.Options.ShieldDiscovery;
    private volatile IReadOnlyDictionary<string, DestinationConfig>? _discovered;
    private CancellationTokenSource _change = new();
    private long _lastRead = TimeProvider.System.GetTimestamp();

    /// <summary>"nats" while membership supplies the shield cluster, "static" otherwise (or "off").</summary>
    public string Source => !_options.Enabled ? "off" : _discovered is null ? "static" : "nats";

    public IProxyConfig GetConfig() => new SignalOnly(new CancellationChangeToken(Volatile.Read(ref _change).Token));

    public ValueTask<ClusterConfig> ConfigureClusterAsync(ClusterConfig cluster, CancellationToken cancel) =>
        _options.Enabled && _discovered is { Count: > 0 } found && string.Equals(cluster.ClusterId, _options.Cluster, StringComparison.OrdinalIgnoreCase)
            ? new(cluster with { Destinations = found })
            : new(cluster);

    public ValueTask<RouteConfig> ConfigureRouteAsync(RouteConfig route, ClusterConfig? cluster, CancellationToken cancel) => new(route);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled) return;
        using var timer = new PeriodicTimer(_options.RefreshInterval, TimeProvider.System);
        do
        {
            await RefreshAsync(stoppingToken).ConfigureAwait(false);
        }
        while (await WaitAsync(timer, stoppingToken).ConfigureAwait(false));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        Dictionary<string, DestinationConfig>? found = null;
        if (invalidation.Bus is { Connected: true } bus)
        {
            try
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                cts.CancelAfter(engine.Options.Invalidation.RequestTimeout);
                found = Shields(await bus.LiveNodesAsync(cts.Token).ConfigureAwait(false));
                _lastRead = TimeProvider.System.GetTimestamp();
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Log.DiscoveryFailed(logger, ex.Message);
            }
        }

        if (found is null)
        {
            // Membership cannot be read: keep the last set a while, then fall back to configuration.
            if (_discovered is null || TimeProvider.System.GetElapsedTime(_lastRead) < _options.KeepLastFor) return;
            found = [];
        }

        var next = found.Count == 0 ? null : found;
        if (SameSet(_discovered, next)) return;
        _discovered = next;
        Log.DiscoveryChanged(logger, _options.Cluster, next is null ? "static configuration" : string.Join(", ", next.Select(d => $"{d.Key}={d.Value.Address}")));
        var old = Interlocked.Exchange(ref _change, new CancellationTokenSource());
        await old.CancelAsync().ConfigureAwait(false);
        old.Dispose();
    }

    private static Dictionary<string, DestinationConfig> Shields(List<NodeInfo> nodes)
    {
        var shields = new Dictionary<string, DestinationConfig>(StringComparer.OrdinalIgnoreCase);
        foreach (var n in nodes)
        {
            if (n.Role != "shield" || !Uri.TryCreate(n.Traffic, UriKind.Absolute, out var traffic) || traffic.Scheme is not ("http" or "https")) continue;
            // As announced (no canonicalising), so a shield that static configuration names the same way
            // keeps its destination, and its health state, when the cluster switches source.
            shields[n.Node] = new DestinationConfig
            {
                Address = n.Traffic!,
                Health = Uri.TryCreate(n.Admin, UriKind.Absolute, out var admin) && admin.Scheme is "http" or "https" ? n.Admin : null,
            };
        }

        return shields;
    }

    private static bool SameSet(IReadOnlyDictionary<string, DestinationConfig>? a, Dictionary<string, DestinationConfig>? b)
    {
        if (a is null || b is null) return a is null && b is null;
        return a.Count == b.Count && a.All(x => b.TryGetValue(x.Key, out var y) && x.Value.Equals(y));
    }

    public override void Dispose()
    {
        _change.Dispose();
        base.Dispose();
    }

    private sealed class SignalOnly(IChangeToken token) : IProxyConfig
    {
        public IReadOnlyList<RouteConfig> Routes { get; } = [];

        public IReadOnlyList<ClusterConfig> Clusters { get; } = [];

        public IChangeToken ChangeToken { get; } = token;
    }
}

/// <summary>Edges: find the shield cluster's destinations in NATS membership (<c>EdgeCache:ShieldDiscovery</c>).</summary>
public sealed class ShieldDiscoveryOptions
{
    /// <summary>Use live shields from membership for <see cref="Cluster"/>, with its configured destinations as the
    /// fallback. Needs <c>Invalidation:NatsUrl</c>. Default false.</summary>
    public bool Enabled { get; set; }

    /// <summary>The YARP cluster whose destinations are the shields. Default <c>shields</c>.</summary>
    public string Cluster { get; set; } = "shields";

    /// <summary>How often membership is read. Default 2 s.</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long the last discovered set is kept while membership cannot be read, before the
    /// configured destinations apply again. Default 30 s.</summary>
    public TimeSpan KeepLastFor { get; set; } = TimeSpan.FromSeconds(30);

    public string? Validate()
    {
        if (!Enabled) return null;
        if (string.IsNullOrWhiteSpace(Cluster)) return "Cluster must name the shield cluster";
        if (RefreshInterval <= TimeSpan.Zero) return "RefreshInterval must be positive";
        if (KeepLastFor < TimeSpan.Zero) return "KeepLastFor must not be negative";
        return null;
    }
}
