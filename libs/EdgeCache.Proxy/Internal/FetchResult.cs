using EdgeCache.Engine;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Proxy.Internal;

internal enum FetchKind
{
    /// <summary>A storable response; <see cref="FetchResult.Entry"/> streams in and is stored once complete.</summary>
    Storable,

    /// <summary>A 304 freshened the stored response.</summary>
    Revalidated,

    /// <summary>The response may not be shared; only the leader uses it, waiters fetch on their own.</summary>
    NotShareable,

    /// <summary>No response came from upstream.</summary>
    Failed,

    /// <summary>No fetch: a fresh copy was stored between the request's lookup and its flight (the
    /// flight it would have joined had just landed); <see cref="FetchResult.Entry"/> is that copy.</summary>
    AlreadyStored,
}

internal sealed class FetchResult
{
    public required FetchKind Kind { get; init; }

    public CachedResponse? Entry { get; init; }

    public required UpstreamResponse Response { get; init; }

    /// <summary>For a storable response: completes once the complete copy is stored (or the body failed).</summary>
    public Task? Stored { get; init; }

    /// <summary>
    /// For a storable response: completes once the complete copy is in the memory tier (or the body
    /// failed). A client's last byte waits for it, so a client that has the whole answer and asks
    /// again, on any connection, finds the copy.
    /// </summary>
    public Task? InMemory { get; init; }

    /// <summary>For the requester alone (a 304 that brought a Set-Cookie the host does not store): not
    /// stored, and collapsed waiters fetch on their own.</summary>
    public bool Personal { get; init; }

    /// <summary>Not stored because it could never be reused: counted as a pass, not a miss.</summary>
    public bool Pass { get; init; }

    /// <summary>Made here from a stored original (a derived representation, <see cref="Derivations"/>): no upstream
    /// exchange, so answered as a hit.</summary>
    public bool Derived { get; init; }

    /// <summary>An image variant request answered with its original, for this reason (<see cref="ImageVariants"/>):
    /// <see cref="Entry"/> is the original, sent with <c>Cache-Control: no-store</c> and stored nowhere.</summary>
    public string? ImageFallback { get; init; }

    public StringValues UpstreamCacheStatus => Response.Headers[HeaderRules.CacheStatus];
}
