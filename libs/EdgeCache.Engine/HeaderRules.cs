using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine;

/// <summary>Header field rules shared by both directions of the proxy and by storage.</summary>
public static class HeaderRules
{
    public const string CacheStatus = "Cache-Status";
    public const string CdnCacheControl = "CDN-Cache-Control";
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

    /// <summary>
    /// Request fields that override a request's host, scheme, path or method at many origins but are
    /// not part of the cache key: forwarded, they would let one client change what is stored under a
    /// key for everyone (cache poisoning). The cache never forwards them.
    /// </summary>
    public static readonly string[] UnkeyedOverrides =
    [
        "X-Forwarded-Host", "X-Forwarded-Scheme", "X-Forwarded-Server", "X-Forwarded-Port", "X-Host", "X-Original-URL",
        "X-Rewrite-URL", "X-Original-Host", "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
    ];

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
