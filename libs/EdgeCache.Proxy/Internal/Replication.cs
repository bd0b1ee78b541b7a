using System.Diagnostics.Metrics;
using System.Threading.Channels;
using EdgeCache.Engine;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace EdgeCache.Proxy.Internal;

/// <summary>What a request from another shield asks of this one (<see cref="HeaderRules.Peer"/>).</summary>
internal enum PeerRequest
{
    /// <summary>Not from a peer (or not trusted as one).</summary>
    None,

    /// <summary>A peer's miss asking for a stored copy, with <c>only-if-cached</c>: answered from this cache or 504.</summary>
    Fill,

    /// <summary>A peer that fetched an object from the origin asking this shield to hold a copy too: filled from
    /// the shields (that peer) only, never from the origin.</summary>
    Replicate,
}

/// <summary>
/// A second home for each object on the shield tier (<see cref="ReplicationOptions"/>). The peer of a key is
/// the live shield, other than this one, that ranks highest in the key's rendezvous order over the
/// <c>Replication:Cluster</c> destinations, the same hash every edge uses: for the owner that is the shield
/// the edges fail over to. Pushes run on their own bounded queue, after the object is in this shield's memory,
/// off every client's path.
/// </summary>
internal sealed class Replication : IAsyncDisposable
{
    private readonly CacheEngine _engine;
    private readonly IProxyStateLookup _proxyState;
    private readonly UpstreamPolicies _policies;
    private readonly ReplicationOptions _options;
    private readonly Channel<Push>? _queue;
    private readonly HttpClient? _client;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task[] _workers = [];
    private readonly ReplicationCounters _counters;
    private int _warnedFull;
    private int _warnedUnnamed;

    public Replication(CacheEngine engine, IProxyStateLookup proxyState, UpstreamPolicies policies)
    {
        _engine = engine;
        _proxyState = proxyState;
        _policies = policies;
        _options = engine.Options.Replication;
        _counters = engine.Replication;
        Enabled = engine.Options.Role == NodeRole.Shield && _options.Enabled;
        if (!Enabled || !_options.Push) return;
        _queue = Channel.CreateBounded<Push>(new BoundedChannelOptions(_options.QueueLength) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = false });
        _client = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(2),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _workers = new Task[_options.Concurrency];
        for (var i = 0; i < _workers.Length; i++) _workers[i] = Task.Run(RunAsync);
    }

    public bool Enabled { get; }

    public bool PeerFill => Enabled && _options.PeerFill;

    public TimeSpan PeerFillTimeout => _options.PeerFillTimeout;

    /// <summary>What a request asks of this shield as a peer: only with a valid tier secret, on a shield that replicates.</summary>
    public PeerRequest Read(IHeaderDictionary headers) => Read(headers, _engine.Options);

    /// <summary>What a request asks of a shield as a peer (<see cref="Read(IHeaderDictionary)"/>).</summary>
    public static PeerRequest Read(IHeaderDictionary headers, EdgeCacheOptions options)
    {
        if (options.Role != NodeRole.Shield || !options.Replication.Enabled) return PeerRequest.None;
        var value = headers[HeaderRules.Peer];
        if (value.Count != 1 || !Forwarding.IsTrustedTier(headers[HeaderRules.TierAuth], options.TierSecrets)) return PeerRequest.None;
        return value[0] switch
        {
            "fill" => PeerRequest.Fill,
            "replicate" => PeerRequest.Replicate,
            _ => PeerRequest.None,
        };
    }

    /// <summary>
    /// Where a fill between shields goes for a key: the live shield other than this one that ranks highest for
    /// it, as a target with that one destination (no retry on another: a fill never asks a third shield).
    /// Null when replication is off, the cluster is unknown, or no other shield is live.
    /// </summary>
    public UpstreamTarget? PeerTarget(UpstreamTarget origin)
    {
        var peer = PickPeer(origin.KeyHash, out var cluster);
        if (peer is null || cluster is null) return null;
        return origin with
        {
            Cluster = cluster,
            Destinations = [peer],
            LoadBalancing = _policies.LoadBalancing(cluster.Model.Config),
            PassiveHealth = _policies.PassiveHealth(cluster.Model.Config),
        };
    }

    private DestinationState? PickPeer(ulong keyHash, out ClusterState? cluster)
    {
        cluster = null;
        if (!Enabled || !_proxyState.TryGetCluster(_options.Cluster, out var found)) return null;
        cluster = found;
        var self = _engine.Options.NodeId;
        var live = new List<DestinationState>(4);
        var named = false;
        foreach (var d in found.DestinationsState.AllDestinations)
        {
            if (string.Equals(d.DestinationId, self, StringComparison.OrdinalIgnoreCase)) named = true;
            else if (!StatusPage.IsUnhealthy(d)) live.Add(d);
        }

        // The cluster must name this shield by its node id (as the edges' hash does), or the peer chosen is not the
        // edges' next shield for the key, and this shield may ask itself. Said once.
        if (!named && Interlocked.Exchange(ref _warnedUnnamed, 1) == 0) Log.ReplicationSelfUnnamed(_engine.Logger, _options.Cluster, self);

        return ConsistentHashLoadBalancingPolicy.Pick(keyHash, live, exclude: null);
    }

    /// <summary>
    /// After a fetch from the origin stored <paramref name="request"/>'s object here: once it is in memory
    /// (<paramref name="inMemory"/>), ask the key's peer to fill it from this shield. Dropped (counted) when
    /// the queue is full.
    /// </summary>
    public void Enqueue(UpstreamRequest request, ulong keyHash, Task inMemory)
    {
        if (_queue is null) return;
        if (_queue.Writer.TryWrite(new Push(request, keyHash, inMemory)))
        {
            Volatile.Write(ref _warnedFull, 0);
            return;
        }

        _counters.CountDropped();
        if (Interlocked.Exchange(ref _warnedFull, 1) == 0) Log.ReplicationQueueFull(_engine.Logger, _options.QueueLength);
    }

    private async Task RunAsync()
    {
        try
        {
            await foreach (var push in _queue!.Reader.ReadAllAsync(_stopping.Token).ConfigureAwait(false))
            {
                await SendAsync(push).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    private async Task SendAsync(Push push)
    {
        string peerId = "-";
        try
        {
            await push.InMemory.ConfigureAwait(false);
            var peer = PickPeer(push.KeyHash, out _);
            if (peer is null)
            {
                _counters.CountFailed();
                return;
            }

            peerId = peer.DestinationId;
            var r = push.Request;
            var uri = new Uri(new Uri(peer.Model.Config.Address), r.PathBase.Add(r.Path).ToUriComponent() + r.Query.ToUriComponent());
            using var message = new HttpRequestMessage(HttpMethod.Head, uri);
            foreach (var h in r.Headers)
            {
                if (!Replicated(h.Key)) continue;
                message.Headers.TryAddWithoutValidation(h.Key, (IEnumerable<string?>)h.Value);
            }

            message.Headers.Host = r.Host.Value;
            message.Headers.TryAddWithoutValidation(HeaderRules.TierAuth, _engine.Options.TierSecrets[0]);
            message.Headers.TryAddWithoutValidation(HeaderRules.Peer, "replicate");
            message.Headers.TryAddWithoutValidation("Via", _engine.ViaToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            timeout.CancelAfter(_options.PushTimeout);
            using var response = await _client!.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                if ((int)response.StatusCode == StatusCodes.Status504GatewayTimeout) _counters.CountMissing();
                else _counters.CountFailed();
                Log.ReplicationPushFailed(_engine.Logger, r.Key, peerId, $"the peer answered {(int)response.StatusCode}");
                return;
            }

            // The peer's own Cache-Status entry (its last) says whether it held the object already.
            var hit = IsHit(response.Headers.TryGetValues(HeaderRules.CacheStatus, out var values) ? string.Join(", ", values) : "");
            if (hit) _counters.CountPresent();
            else _counters.CountStored();
        }
        catch (Exception ex) when (!_stopping.IsCancellationRequested)
        {
            _counters.CountFailed();
            Log.ReplicationPushFailed(_engine.Logger, push.Request.Key, peerId, ex.Message);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>True when a peer's answer came from its cache: its own (last) Cache-Status entry is a hit.</summary>
    public static bool AnsweredFromCache(HeaderDictionary headers) => IsHit(headers[HeaderRules.CacheStatus].ToString());

    private static bool IsHit(string cacheStatus)
    {
        var own = cacheStatus.LastIndexOf(EdgeCacheOptions.ShieldCacheName, StringComparison.Ordinal);
        return own >= 0 && cacheStatus.AsSpan(own).StartsWith(EdgeCacheOptions.ShieldCacheName + "; hit", StringComparison.Ordinal);
    }

    /// <summary>The request fields a push repeats: what selects the variant (Accept-Encoding, Accept, cookies the
    /// origin varies on, ...), not hop-by-hop, forwarding, validators, Range, directives or this tier's own.</summary>
    private static bool Replicated(string name) =>
        !HeaderRules.IsHopByHop(name)
        && !HeaderRules.IsForwardingField(name)
        && !name.StartsWith("If-", StringComparison.OrdinalIgnoreCase)
        && !name.StartsWith("EdgeCache-", StringComparison.OrdinalIgnoreCase)
        && !name.Equals("Range", StringComparison.OrdinalIgnoreCase)
        && !name.Equals("Cache-Control", StringComparison.OrdinalIgnoreCase)
        && !name.Equals("Pragma", StringComparison.OrdinalIgnoreCase)
        && !name.Equals("Via", StringComparison.OrdinalIgnoreCase)
        && !name.Equals("Host", StringComparison.OrdinalIgnoreCase)
        && !name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase);

    public async ValueTask DisposeAsync()
    {
        _queue?.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_workers).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _client?.Dispose();
        _stopping.Dispose();
    }

    private sealed record Push(UpstreamRequest Request, ulong KeyHash, Task InMemory);
}

/// <summary>What replication did (<c>edgecache.replication.*</c>), kept on the engine so that the lookup step counts the fills it answers.</summary>
internal sealed class ReplicationCounters
{
    private long _stored, _present, _missing, _failed, _dropped, _fillHits, _fillMisses, _fillFailures, _servedFills, _refusedFills;

    public void CountStored() => Interlocked.Increment(ref _stored);

    public void CountPresent() => Interlocked.Increment(ref _present);

    public void CountMissing() => Interlocked.Increment(ref _missing);

    public void CountFailed() => Interlocked.Increment(ref _failed);

    public void CountDropped() => Interlocked.Increment(ref _dropped);

    public void CountFill(bool? hit)
    {
        if (hit == true) Interlocked.Increment(ref _fillHits);
        else if (hit == false) Interlocked.Increment(ref _fillMisses);
        else Interlocked.Increment(ref _fillFailures);
    }

    /// <summary>A peer's fill answered here: from this cache (<paramref name="held"/>) or with 504.</summary>
    public void CountServedFill(bool held)
    {
        if (held) Interlocked.Increment(ref _servedFills);
        else Interlocked.Increment(ref _refusedFills);
    }

    public IEnumerable<Measurement<long>> Pushes
    {
        get
        {
            yield return Outcome(Interlocked.Read(ref _stored), "stored");
            yield return Outcome(Interlocked.Read(ref _present), "present");
            yield return Outcome(Interlocked.Read(ref _missing), "missing");
            yield return Outcome(Interlocked.Read(ref _failed), "failed");
            yield return Outcome(Interlocked.Read(ref _dropped), "dropped");
        }
    }

    public IEnumerable<Measurement<long>> Fills
    {
        get
        {
            yield return Outcome(Interlocked.Read(ref _fillHits), "hit");
            yield return Outcome(Interlocked.Read(ref _fillMisses), "miss");
            yield return Outcome(Interlocked.Read(ref _fillFailures), "failed");
        }
    }

    public IEnumerable<Measurement<long>> FillsServed
    {
        get
        {
            yield return Outcome(Interlocked.Read(ref _servedFills), "hit");
            yield return Outcome(Interlocked.Read(ref _refusedFills), "miss");
        }
    }

    private static Measurement<long> Outcome(long value, string outcome) =>
        new(value, new KeyValuePair<string, object?>("outcome", outcome));
}
