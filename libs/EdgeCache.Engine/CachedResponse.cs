using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace EdgeCache.Engine;

/// <summary>
/// One stored response (one variant of one URL). Immutable once built: a 304 that updates
/// headers produces a new instance that shares the body (RFC 9111 §4.3.4).
/// </summary>
public sealed class CachedResponse
{
    public required int StatusCode { get; init; }

    /// <summary>End-to-end header fields as stored: no hop-by-hop fields, no Age, no Cache-Status.</summary>
    public required KeyValuePair<string, StringValues>[] Headers { get; init; }

    public required CacheBody Body { get; init; }

    /// <summary>The directives that govern this cache (CDN-Cache-Control when valid, else Cache-Control).</summary>
    public required CacheDirectives Directives { get; init; }

    /// <summary>Local clock when the request that produced this response was sent.</summary>
    public required DateTimeOffset RequestTime { get; init; }

    /// <summary>Local clock when the response was received.</summary>
    public required DateTimeOffset ResponseTime { get; init; }

    /// <summary>corrected_initial_age of RFC 9111 §4.2.3.</summary>
    public required TimeSpan CorrectedInitialAge { get; init; }

    public required TimeSpan FreshnessLifetime { get; init; }

    /// <summary>True when freshness came from the heuristic of RFC 9111 §4.2.2.</summary>
    public bool HeuristicFreshness { get; init; }

    public string? ETag { get; init; }

    public DateTimeOffset? LastModified { get; init; }

    /// <summary>Request header names from the response's Vary, lower-cased; empty when no Vary.</summary>
    public required string[] VaryNames { get; init; }

    /// <summary>The normalised request values for <see cref="VaryNames"/> that selected this variant.</summary>
    public required string[] VaryValues { get; init; }

    /// <summary>Surrogate keys (Surrogate-Key / Cache-Tag) for tag purges.</summary>
    public string[] Tags { get; init; } = [];

    /// <summary>When this copy was first stored at this node (read-your-purge needs it).</summary>
    public DateTimeOffset StoredAt { get; init; }

    /// <summary>True when this copy was read back from the disk tier.</summary>
    public bool FromDisk { get; init; }

    /// <summary>Set by a soft purge: the entry must be revalidated before it is reused as fresh.</summary>
    public bool MarkedStale { get; init; }

    public long ContentLength => Body.Length;

    /// <summary>Approximate bytes this entry holds, used by the memory tier's budget.</summary>
    public long Size => EstimateSize(Headers, Body.Length);

    public TimeSpan CurrentAge(DateTimeOffset now) => Freshness.CurrentAge(CorrectedInitialAge, ResponseTime, now);

    public bool IsFresh(DateTimeOffset now) => !MarkedStale && FreshnessLifetime > CurrentAge(now);

    /// <summary>True when a stale copy must never be served without revalidation (§4.2.4, §5.2.2).</summary>
    public bool MustRevalidateWhenStale =>
        Directives.MustRevalidate || Directives.ProxyRevalidate || Directives.SharedMaxAge is not null;

    public StringValues GetHeader(string name)
    {
        foreach (var h in Headers)
        {
            if (string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)) return h.Value;
        }

        return StringValues.Empty;
    }

    public static long EstimateSize(KeyValuePair<string, StringValues>[] headers, long bodyLength)
    {
        long size = 256 + bodyLength;
        foreach (var h in headers)
        {
            size += 32 + h.Key.Length * 2;
            foreach (var v in h.Value) size += 24 + (v?.Length ?? 0) * 2;
        }

        return size;
    }

    internal static DateTimeOffset? ParseDate(StringValues value) =>
        value.Count > 0 && HeaderUtilities.TryParseDate(value[0], out var d) ? d : null;
}
