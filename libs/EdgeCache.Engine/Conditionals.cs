using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace EdgeCache.Engine;

/// <summary>Evaluating a client's conditional request against a stored response (RFC 9111 §4.3.2, RFC 9110 §13).</summary>
public static class Conditionals
{
    public static bool HasConditions(IHeaderDictionary request) =>
        request.ContainsKey(HeaderNames.IfNoneMatch) || request.ContainsKey(HeaderNames.IfModifiedSince)
        || request.ContainsKey(HeaderNames.IfMatch) || request.ContainsKey(HeaderNames.IfUnmodifiedSince);

    /// <summary>
    /// True when a GET/HEAD for this stored response should be answered 304 (§13.1.2, §13.1.3).
    /// An If-Modified-Since that is not a valid HTTP-date (<see cref="HttpDate"/>), or that has more
    /// than one member (several field lines), is ignored (§13.1.3).
    /// <paramref name="now"/> is the clock for a two-digit RFC 850 year; without it, the stored
    /// response's receipt time.
    /// </summary>
    public static bool IsNotModified(IHeaderDictionary request, CachedResponse stored, DateTimeOffset? now = null)
    {
        if (stored.StatusCode != 200) return false;
        var inm = request.IfNoneMatch;
        if (!StringValues.IsNullOrEmpty(inm))
        {
            // If-None-Match takes precedence; If-Modified-Since is then ignored (§13.2.2).
            return stored.ETag is { } etag && AnyWeakMatch(inm, etag);
        }

        var ims = request.IfModifiedSince;
        var clock = now ?? stored.ResponseTime;
        if (HttpDate.TryParseField(ims, clock, out var since))
        {
            var lastModified = stored.LastModified ?? CachedResponse.ParseDate(stored.GetHeader(HeaderNames.Date), stored.ResponseTime);
            return lastModified is { } lm && lm <= since;
        }

        return false;
    }

    /// <summary>
    /// If-Range (§13.1.5): true when the range may be applied. A value that is neither an entity-tag
    /// nor a valid HTTP-date (<see cref="HttpDate"/>) does not allow it, nor does a field over several
    /// lines (If-Range is one validator, §13.1.5, and no entity-tag or date is a list). <paramref name="now"/> is the
    /// clock for a two-digit RFC 850 year; without it, the stored response's receipt time.
    /// </summary>
    public static bool IfRangeAllows(IHeaderDictionary request, CachedResponse stored, DateTimeOffset? now = null)
    {
        var ifRange = request.IfRange;
        if (StringValues.IsNullOrEmpty(ifRange)) return true;
        if (ifRange.Count > 1) return false;
        var v = ifRange[0]!.Trim();
        if (v.StartsWith('"') || v.StartsWith("W/", StringComparison.Ordinal))
        {
            // Strong comparison: a weak validator never matches.
            return stored.ETag is { } etag && !etag.StartsWith("W/", StringComparison.Ordinal) && !v.StartsWith("W/", StringComparison.Ordinal) && etag == v;
        }

        // A date matches only a strong Last-Modified (§13.1.5). For a cache comparing it with its stored
        // entry, that is one whose Date is at least one second after it (§8.8.2.2): otherwise the
        // representation may have changed twice within that second, and the range would splice two.
        return HttpDate.TryParseField(ifRange, now ?? stored.ResponseTime, out var date) && stored.LastModified is { } lm && lm == date
            && DateOf(stored) - lm >= TimeSpan.FromSeconds(1);
    }

    /// <summary>The stored response's Date, or its receipt time when it had none or an invalid one
    /// (RFC 9110 §6.6.1: a recipient records the receipt time as the Date of what it stores).</summary>
    private static DateTimeOffset DateOf(CachedResponse stored) =>
        CachedResponse.ParseDate(stored.GetHeader(HeaderNames.Date), stored.ResponseTime) ?? stored.ResponseTime;

    /// <summary>
    /// True when an If-None-Match list (RFC 9110 §13.1.2) names <paramref name="etag"/> by weak
    /// comparison, or is <c>*</c>. The list is read as entity-tags (<c>W/"…"</c> or <c>"…"</c>),
    /// not split on every comma: an opaque-tag may itself contain commas (§8.8.3).
    /// </summary>
    private static bool AnyWeakMatch(StringValues header, string etag)
    {
        var opaque = Opaque(etag).AsSpan();
        foreach (var line in header)
        {
            if (line is null) continue;
            var rest = line.AsSpan();
            while (true)
            {
                rest = rest.TrimStart(" \t,");
                if (rest.IsEmpty) break;
                if (rest[0] == '*') return true;
                var tag = rest;
                if (tag.StartsWith("W/")) tag = tag[2..];
                if (tag.IsEmpty || tag[0] != '"' || tag[1..].IndexOf('"') < 0)
                {
                    // Not an entity-tag: skip to the next list member.
                    var next = rest.IndexOf(',');
                    if (next < 0) break;
                    rest = rest[(next + 1)..];
                    continue;
                }

                var end = tag[1..].IndexOf('"') + 2;
                if (tag[..end].SequenceEqual(opaque)) return true;
                rest = tag[end..];
            }
        }

        return false;
    }

    private static string Opaque(string tag) => tag.StartsWith("W/", StringComparison.Ordinal) ? tag[2..] : tag;
}
