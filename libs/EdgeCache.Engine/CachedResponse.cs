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

    /// <summary>
    /// For a stored 206 (RFC 9111 §3.3), the bytes its body holds; null for every complete response.
    /// A partial answers only a GET for a range inside it (<see cref="PartialContent.Answers"/>): never a
    /// request for the whole, never as a 200.
    /// </summary>
    public PartialSpan? Partial { get; init; }

    /// <summary>True for a stored 206 (<see cref="Partial"/>).</summary>
    public bool IsPartial => Partial is not null;

    /// <summary>True when this copy was read back from the disk tier.</summary>
    public bool FromDisk { get; init; }

    /// <summary>Set by a soft purge: the entry must be revalidated before it is reused as fresh.</summary>
    public bool MarkedStale { get; init; }

    /// <summary>The invalidation-stream sequence this copy is current to: the sequence its node had
    /// applied when the fetch that produced it started (or the upstream tier's, for a copy it served
    /// from its cache). Rules with a higher sequence apply to it. 0 when no stream is in use.</summary>
    public ulong StoredSeq { get; init; }

    /// <summary>The newest rule sequence this copy has been checked against (a hint, set on lookup).</summary>
    internal ulong CheckedSeq;

    /// <summary>The serving layer's encoded response head for this copy (it depends only on the copy and
    /// the node), built on the first fast hit. Copies made by rules start without one.</summary>
    internal object? EncodedHead;

    /// <summary>Counts this copy's hits for a re-encode at a high level once it is hot (a representation made
    /// here at a fast level, <see cref="CompressionPolicy.RecompressAfterHits"/>); null for every other copy.
    /// Set once before the copy is stored; not carried to copies made from it (a rule's, a re-encode's).</summary>
    internal HotTrigger? Hot;

    /// <summary>Counts a hit served from this copy (both hit paths call it).</summary>
    public void CountHit() => Hot?.Hit();

    private int _warmed;

    /// <summary>True until the first hit on a copy a warming request stored (<c>Cache-Status</c> <c>detail=warmed</c>).
    /// Kept in memory only: a copy read back from disk, or changed by a rule, is no longer "warmed".</summary>
    public bool IsWarmed => Volatile.Read(ref _warmed) != 0;

    /// <summary>Marks a copy a warming request is about to store.</summary>
    public void MarkWarmed() => Volatile.Write(ref _warmed, 1);

    /// <summary>True for the one hit that finds this copy still warmed (it is then not warmed any more).</summary>
    public bool TryClaimWarmed() => Volatile.Read(ref _warmed) != 0 && Interlocked.Exchange(ref _warmed, 0) == 1;

    /// <summary>The copy id a refresh stored this copy with (<see cref="HeaderRules.CopyId"/>), or null.</summary>
    public string? CopyId => GetHeader(HeaderRules.CopyId) is [{ } id] ? id : null;

    private string? _contentCoding;
    private volatile bool _contentCodingKnown;

    /// <summary>This copy's normalised Content-Encoding (<see cref="EdgeCache.Engine.ContentCoding.Of"/>); null for none.</summary>
    public string? ContentCoding
    {
        get
        {
            if (!_contentCodingKnown)
            {
                _contentCoding = EdgeCache.Engine.ContentCoding.Of(GetHeader("Content-Encoding"));
                _contentCodingKnown = true;
            }

            return _contentCoding;
        }
    }

    /// <summary>True when rules newer than this copy's last check exist.</summary>
    public bool NeedsRuleCheck(InvalidationRules rules) => Math.Max(StoredSeq, Volatile.Read(ref CheckedSeq)) < rules.MaxSeq;

    /// <summary>This copy with an applied soft purge or TTL change: shares the body.</summary>
    public CachedResponse WithRule(RuleMatch rule, ulong checkedSeq)
    {
        var ttl = rule.Kind == RuleKind.Ttl;
        var copy = Copy(
            ttl ? CurrentAge(rule.ExpiresAt) : FreshnessLifetime,
            HeuristicFreshness && !ttl,
            rule.Kind == RuleKind.Soft || (MarkedStale && !ttl),
            StoredSeq);
        copy.CheckedSeq = checkedSeq;
        return copy;
    }

    /// <summary>This copy, current to <paramref name="seq"/> (set before it is stored).</summary>
    public CachedResponse WithStoredSeq(ulong seq) =>
        seq == StoredSeq ? this : Copy(FreshnessLifetime, HeuristicFreshness, MarkedStale, seq);

    /// <summary>This copy with other fields (a response made from it and sent, not stored): shares the body.</summary>
    public CachedResponse WithHeaders(KeyValuePair<string, StringValues>[] headers) => Copy(FreshnessLifetime, HeuristicFreshness, MarkedStale, StoredSeq, headers);

    private CachedResponse Copy(TimeSpan lifetime, bool heuristic, bool markedStale, ulong storedSeq, KeyValuePair<string, StringValues>[]? headers = null) => new()
    {
        StatusCode = StatusCode,
        Headers = headers ?? Headers,
        Body = Body,
        Directives = Directives,
        RequestTime = RequestTime,
        ResponseTime = ResponseTime,
        CorrectedInitialAge = CorrectedInitialAge,
        FreshnessLifetime = lifetime,
        HeuristicFreshness = heuristic,
        ETag = ETag,
        LastModified = LastModified,
        VaryNames = VaryNames,
        VaryValues = VaryValues,
        Tags = Tags,
        StoredAt = StoredAt,
        Partial = Partial,
        FromDisk = FromDisk,
        MarkedStale = markedStale,
        StoredSeq = storedSeq,
    };

    public long ContentLength => Body.Length;

    /// <summary>Approximate bytes this entry holds, used by the memory tier's budget: the body, the fields,
    /// the tags and the objects every stored response has (<see cref="ObjectBytes"/>).</summary>
    public long Size
    {
        get
        {
            var size = EstimateSize(Headers, Body.Length);
            foreach (var tag in Tags) size += 32 + tag.Length * 2L;
            return size;
        }
    }

    /// <summary>What a stored response holds besides its body bytes, fields and tags: this object, its body's
    /// bookkeeping (segment list, lock, completion), its directives and arrays. Measured on the heap by
    /// <c>MemoryAccountingTests</c> (it was 256, a fifth of what a 1 KiB entry really held beyond its bytes).</summary>
    public const int ObjectBytes = 512;

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
        long size = ObjectBytes + bodyLength;
        foreach (var h in headers)
        {
            size += 32 + h.Key.Length * 2;
            foreach (var v in h.Value) size += 24 + (v?.Length ?? 0) * 2;
        }

        return size;
    }

    /// <summary>
    /// Reads a Date or Last-Modified value strictly, as an HTTP-date of RFC 9110 §5.6.7
    /// (<see cref="HttpDate.TryParseField"/>): anything else, a field over several lines included,
    /// counts as absent. An invalid Date is
    /// replaced by the receipt time (§6.6.1), as when there is none; an invalid Last-Modified gives
    /// no heuristic freshness (RFC 9111 §4.2.2) and no If-Modified-Since validator. <paramref name="now"/>
    /// is the recipient's clock for a two-digit RFC 850 year.
    /// </summary>
    internal static DateTimeOffset? ParseDate(StringValues value, DateTimeOffset now) =>
        HttpDate.TryParseField(value, now, out var d) ? d : null;
}
