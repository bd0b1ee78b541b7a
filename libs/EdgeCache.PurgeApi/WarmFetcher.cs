using EdgeCache.Engine;
using EdgeCache.Nats;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeCache.PurgeApi;

/// <summary>
/// Sends warming requests to the edges' traffic endpoints (as membership announces them) and reads what the
/// tiers did from their <c>Cache-Status</c> members (RFC 9211): the shield's says whether it holds the URL
/// now. Bodies are read to the end and dropped, so every tier completes (and stores) the copy.
/// </summary>
public sealed class WarmFetcher : IDisposable
{
    public const string ShieldCacheName = "EdgeCache-Shield";
    public const string EdgeCacheName = "EdgeCache-Edge";

    private readonly HttpClient _client;
    private readonly WarmOptions _options;
    private readonly ILogger<WarmFetcher> _logger;

    public WarmFetcher(IOptions<PurgeApiOptions> options, ILogger<WarmFetcher> logger)
    {
        _options = options.Value.Warm;
        _logger = logger;
        _client = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>Fetches <paramref name="url"/> into the shield that owns it, through one live edge (the next one
    /// when an edge cannot be reached); with <paramref name="copyId"/>, as a refresh.</summary>
    public async Task<WarmUrlResult> WarmShieldAsync(string url, IReadOnlyList<NodeInfo> edges, string? copyId, CancellationToken cancellationToken)
    {
        var uri = new Uri(url);
        var candidates = Candidates(uri, edges);
        if (candidates.Count == 0) return Failed(url, null, $"no live edge announces a {uri.Scheme} traffic endpoint");

        // Spread calls over the edges (any edge hashes the key to the same shield); the next one is the fallback.
        var keyHash = RendezvousHash.HashKey(url);
        candidates.Sort((a, b) => RendezvousHash.Score(keyHash, RendezvousHash.HashNode(b.Node)).CompareTo(RendezvousHash.Score(keyHash, RendezvousHash.HashNode(a.Node))));
        string? reason = null;
        foreach (var edge in candidates.Take(2))
        {
            var (status, cacheStatus, via, error) = await SendAsync(uri, edge, copyId is null ? "shield" : "refresh", copyId, cancellationToken).ConfigureAwait(false);
            if (error is not null)
            {
                WarmLog.Failed(_logger, url, edge.Node, error);
                reason = $"{edge.Node}: {error}";
                if (status is null) continue;
                return Failed(url, status, reason);
            }

            var member = LastMember(cacheStatus, ShieldCacheName);
            var holds = CacheStatus.Holds(cacheStatus, ShieldCacheName);
            var stored = member is not null && HasParameter(member, "stored");
            if (copyId is not null ? stored : holds)
            {
                var cache = stored ? (HasParameter(member!, "collapsed") ? "collapsed" : "stored") : "hit";
                return new WarmUrlResult(url, WarmUrlResult.WarmedOutcome, status, cache, null, via);
            }

            return Failed(url, status, member is null
                ? $"no shield answered (Cache-Status: {string.Join(", ", cacheStatus)})"
                : $"the shield did not store {(copyId is null ? "it" : "a new copy")} ({member})");
        }

        return Failed(url, null, reason ?? "no edge could be reached");
    }

    /// <summary>Fetches <paramref name="url"/> into every live edge (each from its shield).</summary>
    public async Task<WarmEdgeResult[]> WarmEdgesAsync(string url, IReadOnlyList<NodeInfo> edges, CancellationToken cancellationToken)
    {
        var uri = new Uri(url);
        var candidates = Candidates(uri, edges);
        var results = await Task.WhenAll(candidates.Select(async edge =>
        {
            var (status, cacheStatus, _, error) = await SendAsync(uri, edge, "edge", null, cancellationToken).ConfigureAwait(false);
            if (error is not null) return new WarmEdgeResult(edge.Node, WarmUrlResult.FailedOutcome, status, error);
            return CacheStatus.Holds(cacheStatus, EdgeCacheName)
                ? new WarmEdgeResult(edge.Node, WarmUrlResult.WarmedOutcome, status, null)
                : new WarmEdgeResult(edge.Node, WarmUrlResult.FailedOutcome, status, $"the edge did not store it ({LastMember(cacheStatus, EdgeCacheName)})");
        })).ConfigureAwait(false);
        return results;
    }

    private static List<NodeInfo> Candidates(Uri uri, IReadOnlyList<NodeInfo> edges) =>
        [.. edges.Where(e => Uri.TryCreate(e.Traffic, UriKind.Absolute, out var t) && t.Scheme == uri.Scheme)];

    /// <summary>One warming request: the status, the Cache-Status lines and Via, or an error (with a null
    /// status when the edge could not be reached at all, so another may be tried).</summary>
    private async Task<(int? Status, string[] CacheStatus, string? Via, string? Error)> SendAsync(Uri uri, NodeInfo edge, string mode, string? copyId, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(_options.FetchTimeout);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(edge.Traffic!), uri.PathAndQuery));
        request.Headers.Host = uri.Authority;
        request.Headers.TryAddWithoutValidation(HeaderRules.Warm, mode);
        request.Headers.TryAddWithoutValidation(HeaderRules.TierAuth, _options.TierSecret);
        if (copyId is not null) request.Headers.TryAddWithoutValidation(HeaderRules.CopyId, copyId);
        HttpResponseMessage response;
        try
        {
            response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            return (null, [], null, "unreachable: " + ex.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, [], null, $"no answer within {_options.FetchTimeout}");
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            try
            {
                // Read to the end: a tier stores a copy only once its body is complete.
                await response.Content.CopyToAsync(Stream.Null, cts.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                return (status, [], null, "the body broke off: " + ex.Message);
            }

            var cacheStatus = response.Headers.TryGetValues(HeaderRules.CacheStatus, out var cs) ? cs.ToArray() : [];
            var via = response.Headers.Via.Count > 0 ? string.Join(", ", response.Headers.Via) : null;
            return (status, cacheStatus, via, null);
        }
    }

    /// <summary>The last Cache-Status member named <paramref name="cacheName"/> (the tier nearest the origin sends the first).</summary>
    internal static string? LastMember(IEnumerable<string> lines, string cacheName)
    {
        string? last = null;
        foreach (var line in lines)
        {
            foreach (var m in line.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var name = m.Split(';', 2)[0].Trim();
                if (name == cacheName) last = m;
            }
        }

        return last;
    }

    private static bool HasParameter(string member, string name)
    {
        foreach (var p in member.Split(';', StringSplitOptions.TrimEntries))
        {
            if (p == name || p.StartsWith(name + "=", StringComparison.Ordinal)) return true;
        }

        return false;
    }

    private static WarmUrlResult Failed(string url, int? status, string reason) => new(url, WarmUrlResult.FailedOutcome, status, null, reason, null);

    public void Dispose() => _client.Dispose();
}
