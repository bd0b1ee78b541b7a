using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine;

/// <summary>Header field rules shared by both directions of the proxy and by storage.</summary>
public static class HeaderRules
{
    public const string CacheStatus = "Cache-Status";
    public const string CdnCacheControl = "CDN-Cache-Control";

    /// <summary>EdgeCache's own targeted cache-control field (RFC 9213 §2): the syntax of
    /// CDN-Cache-Control, precedence over it, honoured by shields and edges, and removed by edges before
    /// they respond, so it never leaves this CDN.</summary>
    public const string EdgeCacheCacheControl = "EdgeCache-Cache-Control";
    public const string SurrogateKey = "Surrogate-Key";
    public const string CacheTag = "Cache-Tag";

    /// <summary>Internal: the invalidation-stream sequence a shield's copy is current to (read-your-purge).
    /// Sent by shields to edges only; removed from client requests and never stored.</summary>
    public const string StoredSeq = "EdgeCache-Stored-Seq";

    /// <summary>Connection-specific fields (RFC 9110 §7.6.1) and the proxy-authentication fields a
    /// cache must not store (RFC 9111 §3.1). Fields named in Connection are handled separately.</summary>
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Transfer-Encoding", "Upgrade", "Trailer",
        "Proxy-Authenticate", "Proxy-Authentication-Info", "Proxy-Authorization",
    };

    public static bool IsHopByHop(string name) => HopByHop.Contains(name);

    /// <summary>Internal: the shared secret an edge sends to shields so they trust its forwarding fields
    /// (<c>EdgeCache:TierSecrets</c>). Removed from every request before it goes further; never logged.</summary>
    public const string TierAuth = "EdgeCache-Tier-Auth";

    /// <summary>Internal request field between shields (replication): <c>fill</c>, a peer asking for a stored copy
    /// (with <c>only-if-cached</c>), or <c>replicate</c>, a peer asking this shield to fill the object from the
    /// shields only, never the origin. Honoured only beside a valid <see cref="TierAuth"/> on a shield; removed from
    /// every request a node forwards, so no client can set it.</summary>
    public const string Peer = "EdgeCache-Peer";

    /// <summary>Internal request field: a cache-warming request from the purge API (<c>shield</c>, <c>edge</c> or
    /// <c>refresh</c>). Honoured only beside a valid <see cref="TierAuth"/>; an edge
    /// removes it from every other request, so no client can mark what others are served.</summary>
    public const string Warm = "EdgeCache-Warm";

    /// <summary>Internal field: the copy id a refresh gave the copy it stored on the owning shield (sent by the
    /// purge API with the refresh, stored with the copy, passed from shields to edges, never sent to clients).
    /// The refresh's purge spares copies carrying it (<see cref="InvalidationEvent.KeepCopy"/>).</summary>
    public const string CopyId = "EdgeCache-Copy";

    /// <summary>Internal field: the coding and level an EdgeCache tier made a representation in (<c>br; level=5</c>),
    /// stored with the copies it makes (<see cref="Representation.Derive"/>, <see cref="Representation.Remade"/>) and
    /// passed from shields to edges, never sent to clients. An edge that stores a copy its shield made at a fast level
    /// watches it and re-encodes it when it is hot at the edge; a shield drops an origin's, so an origin's own
    /// Content-Encoding is never taken for one EdgeCache made.</summary>
    public const string Encoded = "EdgeCache-Encoded";

    /// <summary>
    /// Request fields that tell an origin the client's address, scheme, host, path prefix or method,
    /// or override them (RFC 7239 <c>Forwarded</c>, the <c>X-Forwarded-*</c> family, and the
    /// vendor variants). None is part of the cache key, so a client's value, forwarded, would let it
    /// change what is stored under a key for everyone (cache poisoning). The edge removes every one
    /// of them (and any other <c>X-Forwarded-</c> field) and sets its own; see <see cref="IsForwardingField"/>.
    /// </summary>
    public static readonly string[] ForwardingFields =
    [
        "Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Prefix", "X-Forwarded-Ssl",
        "X-Forwarded-Scheme", "X-Forwarded-Server", "X-Forwarded-Port", "X-Forwarded-Uri", "X-Forwarded-Path", "X-Forwarded-Protocol",
        "Front-End-Https", "X-Url-Scheme", "X-Scheme", "X-Host", "X-Original-URL", "X-Original-URI", "X-Rewrite-URL", "X-Original-Host",
        "X-Original-Method", "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
        "True-Client-IP", "X-Real-IP", "X-Client-IP", "X-Cluster-Client-IP", "X-Original-Forwarded-For", "CF-Connecting-IP", "Fastly-Client-IP",
    ];

    private static readonly HashSet<string> ForwardingFieldSet = new(ForwardingFields, StringComparer.OrdinalIgnoreCase);

    /// <summary>True for a request field that <see cref="ForwardingFields"/> lists or that starts with <c>X-Forwarded-</c>.</summary>
    public static bool IsForwardingField(string name) =>
        ForwardingFieldSet.Contains(name) || name.StartsWith("X-Forwarded-", StringComparison.OrdinalIgnoreCase);

    /// <summary>Names listed in the Connection field, which are hop-by-hop for this message.</summary>
    public static HashSet<string>? ConnectionOptions(StringValues connection)
    {
        if (StringValues.IsNullOrEmpty(connection)) return null;
        HashSet<string>? set = null;
        foreach (var line in connection)
        {
            if (line is null) continue;
            foreach (var token in line.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                (set ??= new HashSet<string>(StringComparer.OrdinalIgnoreCase)).Add(token);
            }
        }

        return set;
    }

    /// <summary>Fields the cache keeps with a stored response (RFC 9111 §3.1): everything end-to-end,
    /// except Age and Cache-Status, which are regenerated on every response from cache.</summary>
    public static bool IsStored(string name, HashSet<string>? connectionOptions) =>
        !IsHopByHop(name)
        && !(connectionOptions?.Contains(name) ?? false)
        && !name.Equals("Age", StringComparison.OrdinalIgnoreCase)
        && !name.Equals(CacheStatus, StringComparison.OrdinalIgnoreCase)
        && !name.Equals(StoredSeq, StringComparison.OrdinalIgnoreCase);

    /// <summary>Fields a 304 must not change in the stored response (RFC 9111 §3.2).</summary>
    public static bool IsKeptOnUpdate(string name) =>
        name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Content-Range", StringComparison.OrdinalIgnoreCase);

    public static string[] ParseTags(StringValues surrogateKey, StringValues cacheTag)
    {
        if (StringValues.IsNullOrEmpty(surrogateKey) && StringValues.IsNullOrEmpty(cacheTag)) return [];
        var tags = new List<string>();
        foreach (var line in surrogateKey)
        {
            if (line is not null) tags.AddRange(line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        foreach (var line in cacheTag)
        {
            if (line is not null) tags.AddRange(line.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        return [.. tags.Distinct(StringComparer.Ordinal)];
    }
}
