using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace EdgeCache.Engine;

/// <summary>Builds stored responses from upstream responses, and updates them from 304s.</summary>
public static class CachedResponseFactory
{
    public static CachedResponse Create(
        int status,
        IHeaderDictionary responseHeaders,
        IHeaderDictionary requestHeaders,
        CacheBody body,
        DateTimeOffset requestTime,
        DateTimeOffset responseTime,
        HeuristicOptions heuristics)
    {
        var connection = HeaderRules.ConnectionOptions(responseHeaders.Connection);
        var stored = new List<KeyValuePair<string, StringValues>>(responseHeaders.Count + 1);
        var hasDate = false;
        foreach (var h in responseHeaders)
        {
            if (!HeaderRules.IsStored(h.Key, connection)) continue;
            if (h.Key.Equals(HeaderNames.Date, StringComparison.OrdinalIgnoreCase))
            {
                // A Date that is not a valid HTTP-date is replaced (RFC 9110 §6.6.1).
                if (CachedResponse.ParseDate(h.Value, responseTime) is null) continue;
                hasDate = true;
            }

            stored.Add(h);
        }

        if (!hasDate)
        {
            stored.Add(new(HeaderNames.Date, HeaderUtilities.FormatDate(responseTime)));
        }

        var headers = stored.ToArray();
        return Build(status, headers, body, requestTime, responseTime, Freshness.ParseAge(responseHeaders.Age), requestHeaders, heuristics, DateTimeOffset.MinValue);
    }

    /// <summary>
    /// Freshens a stored response with a 304 (RFC 9111 §4.3.4): header fields in the 304 replace
    /// the stored ones (except those that describe the stored body), ages restart from the 304.
    /// </summary>
    public static CachedResponse Freshen(
        CachedResponse stored,
        IHeaderDictionary notModifiedHeaders,
        IHeaderDictionary requestHeaders,
        DateTimeOffset requestTime,
        DateTimeOffset responseTime,
        HeuristicOptions heuristics)
    {
        var merged = Merge(stored.Headers, notModifiedHeaders, responseTime, HeaderRules.IsKeptOnUpdate);
        return Build(stored.StatusCode, [.. merged], stored.Body, requestTime, responseTime, Freshness.ParseAge(notModifiedHeaders.Age), requestHeaders, heuristics, stored.StoredAt);
    }

    /// <summary>
    /// Combines a stored partial with a new 206 of the same representation (RFC 9111 §3.4; the caller
    /// has checked their strong validators match, <see cref="PartialContent.SameStrongValidator"/>) whose
    /// span overlaps or touches the stored one. Per RFC 9110 §15.3.7.3 the stored header fields are
    /// kept, each replaced by the new response's field of that name aside from Content-Range (and
    /// Content-Length, which describes the new message only, RFC 9111 §3.2); the content is the union
    /// of the two spans. When the union is the whole representation the result is a complete 200 with
    /// a Content-Length of the complete length, otherwise a larger partial. Null when the spans leave
    /// a gap, or a body is not complete or not as long as its span says. Ages restart from the new
    /// response. The bytes are copied once, into one array: this runs on a miss, never on a hit.
    /// </summary>
    public static CachedResponse? Combine(
        CachedResponse stored,
        IHeaderDictionary partialHeaders,
        CacheBody partialBody,
        IHeaderDictionary requestHeaders,
        DateTimeOffset requestTime,
        DateTimeOffset responseTime,
        HeuristicOptions heuristics)
    {
        if (stored.Partial is not { } old || !PartialSpan.TryParse(partialHeaders.ContentRange, out var added)) return null;
        if (PartialSpan.Union(old, added) is not { } union) return null;
        if (!stored.Body.IsCompleted || !partialBody.IsCompleted || stored.Body.Length != old.Length || partialBody.Length != added.Length) return null;
        if (union.Length > Array.MaxLength) return null;

        var bytes = new byte[union.Length];
        stored.Body.AsSequence().CopyTo(bytes.AsSpan((int)(old.First - union.First)));
        partialBody.AsSequence().CopyTo(bytes.AsSpan((int)(added.First - union.First)));

        var merged = Merge(stored.Headers, partialHeaders, responseTime, static name =>
            name.Equals(HeaderNames.ContentRange, StringComparison.OrdinalIgnoreCase)
            || name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase)
            || name.Equals(HeaderNames.TransferEncoding, StringComparison.OrdinalIgnoreCase));
        merged.RemoveAll(static h => h.Key.Equals(HeaderNames.ContentRange, StringComparison.OrdinalIgnoreCase) || h.Key.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase));
        var whole = union.IsWhole;
        if (!whole) merged.Add(new(HeaderNames.ContentRange, union.Format()));
        merged.Add(new(HeaderNames.ContentLength, union.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        var status = whole ? StatusCodes.Status200OK : StatusCodes.Status206PartialContent;
        return Build(status, [.. merged], CacheBody.FromBytes(bytes), requestTime, responseTime, Freshness.ParseAge(partialHeaders.Age), requestHeaders, heuristics, stored.StoredAt);
    }

    /// <summary>
    /// Updates stored header fields from a newer response (RFC 9111 §3.2): each field of
    /// <paramref name="updates"/> that is stored replaces the stored field of that name, except those
    /// <paramref name="keptFromStored"/> names; an invalid Date is replaced by <paramref name="responseTime"/>.
    /// </summary>
    private static List<KeyValuePair<string, StringValues>> Merge(
        KeyValuePair<string, StringValues>[] storedHeaders, IHeaderDictionary updates, DateTimeOffset responseTime, Func<string, bool> keptFromStored)
    {
        var connection = HeaderRules.ConnectionOptions(updates.Connection);
        var merged = new List<KeyValuePair<string, StringValues>>(storedHeaders.Length + 4);
        foreach (var h in storedHeaders)
        {
            if (updates.ContainsKey(h.Key) && HeaderRules.IsStored(h.Key, connection) && !keptFromStored(h.Key))
            {
                continue;
            }

            merged.Add(h);
        }

        foreach (var h in updates)
        {
            if (!HeaderRules.IsStored(h.Key, connection) || keptFromStored(h.Key)) continue;
            if (h.Key.Equals(HeaderNames.Date, StringComparison.OrdinalIgnoreCase) && CachedResponse.ParseDate(h.Value, responseTime) is null) continue;
            merged.Add(h);
        }

        if (!updates.ContainsKey(HeaderNames.Date) || CachedResponse.ParseDate(updates.Date, responseTime) is null)
        {
            merged.RemoveAll(h => h.Key.Equals(HeaderNames.Date, StringComparison.OrdinalIgnoreCase));
            merged.Add(new(HeaderNames.Date, HeaderUtilities.FormatDate(responseTime)));
        }

        return merged;
    }

    /// <summary>
    /// Rebuilds a stored response read back from disk: freshness is recomputed from the stored
    /// fields (deterministic), the age from the stored corrected initial age.
    /// </summary>
    public static CachedResponse Restore(
        int status,
        KeyValuePair<string, StringValues>[] headers,
        CacheBody body,
        DateTimeOffset requestTime,
        DateTimeOffset responseTime,
        TimeSpan correctedInitialAge,
        string[] varyValues,
        DateTimeOffset storedAt,
        HeuristicOptions heuristics,
        ulong storedSeq = 0)
    {
        var built = Build(status, headers, body, requestTime, responseTime, TimeSpan.Zero, new HeaderDictionary(), heuristics, storedAt);
        return new CachedResponse
        {
            StatusCode = built.StatusCode,
            Headers = built.Headers,
            Body = body,
            Directives = built.Directives,
            RequestTime = requestTime,
            ResponseTime = responseTime,
            CorrectedInitialAge = correctedInitialAge,
            FreshnessLifetime = built.FreshnessLifetime,
            HeuristicFreshness = built.HeuristicFreshness,
            ETag = built.ETag,
            LastModified = built.LastModified,
            VaryNames = built.VaryNames,
            VaryValues = varyValues,
            Tags = built.Tags,
            StoredAt = storedAt,
            Partial = built.Partial,
            FromDisk = true,
            StoredSeq = storedSeq,
        };
    }

    private static CachedResponse Build(
        int status,
        KeyValuePair<string, StringValues>[] headers,
        CacheBody body,
        DateTimeOffset requestTime,
        DateTimeOffset responseTime,
        TimeSpan ageValue,
        IHeaderDictionary requestHeaders,
        HeuristicOptions heuristics,
        DateTimeOffset storedAt)
    {
        IHeaderDictionary view = new HeaderDictionary(headers.Length);
        foreach (var h in headers) view.Append(h.Key, h.Value);

        var (cc, useExpires) = StoragePolicy.EffectiveDirectives(view);
        var date = CachedResponse.ParseDate(view.Date, responseTime) ?? responseTime;
        var lastModified = CachedResponse.ParseDate(view.LastModified, responseTime);
        var lifetime = Freshness.Lifetime(status, cc, useExpires, view.Expires, date, lastModified, heuristics, responseTime);
        if (StoragePolicy.IsErrorStatus(status) && lifetime is { } l && l.Lifetime > heuristics.ErrorStatusMax)
        {
            lifetime = (heuristics.ErrorStatusMax, l.Heuristic);
        }

        var varyNames = Vary.ParseNames(view.Vary);
        var etag = view.ETag.Count > 0 ? view.ETag[0] : null;

        return new CachedResponse
        {
            StatusCode = status,
            Headers = headers,
            Body = body,
            Directives = cc,
            RequestTime = requestTime,
            ResponseTime = responseTime,
            CorrectedInitialAge = Freshness.CorrectedInitialAge(requestTime, responseTime, date, ageValue),
            FreshnessLifetime = cc.NoCache ? TimeSpan.Zero : lifetime?.Lifetime ?? TimeSpan.Zero,
            HeuristicFreshness = lifetime?.Heuristic ?? false,
            ETag = etag,
            LastModified = lastModified,
            VaryNames = varyNames,
            VaryValues = Vary.SelectValues(varyNames, requestHeaders),
            Tags = HeaderRules.ParseTags(view[HeaderRules.SurrogateKey], view[HeaderRules.CacheTag]),
            StoredAt = storedAt == DateTimeOffset.MinValue ? responseTime : storedAt,
            Partial = status == 206 && PartialSpan.TryParse(view.ContentRange, out var span) ? span : null,
        };
    }
}
