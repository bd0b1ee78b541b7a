using EdgeCache.Engine;

namespace EdgeCache.Proxy.Internal;

internal enum RequestMode
{
    /// <summary>Forward as is; nothing is stored (unsafe methods, bypassed requests).</summary>
    Pass,

    /// <summary>Fetch (collapsed) and store when allowed; <see cref="CacheRequestState.Stored"/> is revalidated when set.</summary>
    Fetch,

    /// <summary>Serve <see cref="CacheRequestState.Stored"/> now and revalidate it in the background (RFC 5861 §3).</summary>
    StaleWhileRevalidate,
}

/// <summary>What the lookup middleware decided, handed to the forwarding step inside YARP's pipeline.</summary>
internal sealed class CacheRequestState
{
    public required RequestMode Mode { get; init; }

    public required string Key { get; init; }

    public required HostCachePolicy Policy { get; init; }

    public required CacheDirectives RequestDirectives { get; init; }

    /// <summary>A stored response that did not satisfy the request as it was (stale, or no-cache).</summary>
    public CachedResponse? Stored { get; init; }

    /// <summary>A stored partial (206) of the variant this request selects that does not answer it
    /// (<see cref="PartialContent.Answers"/>): never served or revalidated as it is, but completed or
    /// replaced by the fetch (RFC 9111 §3.3, §3.4).</summary>
    public CachedResponse? Partial { get; init; }

    /// <summary>The URL is stored, but not the variant this request selects.</summary>
    public bool UrlKnown { get; init; }

    /// <summary>The client asked to revalidate (no-cache) and the host's policy honours it.</summary>
    public bool ClientForcedRevalidation { get; init; }

    /// <summary>No stored copy may answer this request as it is (the client's no-cache, honoured, or a node not sure it has every purge).</summary>
    public bool MustRevalidate { get; init; }

    /// <summary>Drop the client's no-cache before forwarding (host policy Ignore).</summary>
    public bool DropClientNoCache { get; init; }

    /// <summary>The Cache-Status fwd reason for a pass (method, bypass).</summary>
    public string PassReason { get; init; } = "bypass";

    /// <summary>Store the response when allowed (false for requests carrying no-store).</summary>
    public bool MayStore { get; init; } = true;

    /// <summary>Ask the upstream tier to revalidate too (this node is not sure it has every purge).</summary>
    public bool UpstreamNoCache { get; init; }

    /// <summary>A POST on a host with <see cref="HostCachePolicy.StorePostResponses"/>: still forwarded (never answered
    /// from cache), and its response stored as the target's GET response when <see cref="PostResponseStorage"/> allows.</summary>
    public bool MayStorePostResponse { get; init; }

    /// <summary>Collapse with other requests (false when the request carries credentials).</summary>
    public bool MayCollapse { get; init; } = true;

    /// <summary>A trusted warming request from the purge API (<see cref="Warming"/>): the copy it stores is
    /// marked warmed, and a hit it makes does not count as the copy's first.</summary>
    public WarmMode Warm { get; init; }

    /// <summary>An image variant request (<see cref="ImageRequest"/>; the key is its canonical URL's).</summary>
    public ImageRequest? Image { get; init; }

    /// <summary>For <see cref="Image"/>: the original's primary key (shields are chosen by it, so one shield
    /// holds an original and makes all its variants).</summary>
    public string? OriginalKey { get; init; }

    /// <summary>For <see cref="WarmMode.Refresh"/>: the copy id stored with the new copy.</summary>
    public string? CopyId { get; init; }
}
