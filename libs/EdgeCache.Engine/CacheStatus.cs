namespace EdgeCache.Engine;

/// <summary>Formats one Cache-Status list member (RFC 9211 §2).</summary>
public static class CacheStatus
{
    /// <param name="fwd">fwd parameter token (uri-miss, vary-miss, miss, request, stale, bypass, method); null on a hit.</param>
    public static string Format(string cacheName, bool hit, string? fwd, int? fwdStatus, bool stored, bool collapsed, long? ttlSeconds, string? detail)
    {
        var s = cacheName;
        if (hit) s += "; hit";
        if (fwd is not null) s += "; fwd=" + fwd;
        if (fwdStatus is { } fs) s += "; fwd-status=" + fs;
        if (stored) s += "; stored";
        if (collapsed) s += "; collapsed";
        if (ttlSeconds is { } ttl) s += "; ttl=" + ttl;
        if (detail is not null) s += "; detail=" + detail;
        return s;
    }
}
