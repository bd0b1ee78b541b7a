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
        var connection = HeaderRules.ConnectionOptions(notModifiedHeaders.Connection);
        var merged = new List<KeyValuePair<string, StringValues>>(stored.Headers.Length + 4);
        foreach (var h in stored.Headers)
        {
            if (notModifiedHeaders.ContainsKey(h.Key) && HeaderRules.IsStored(h.Key, connection) && !HeaderRules.IsKeptOnUpdate(h.Key))
            {
                continue;
            }

            merged.Add(h);
        }

        foreach (var h in notModifiedHeaders)
        {
            if (!HeaderRules.IsStored(h.Key, connection) || HeaderRules.IsKeptOnUpdate(h.Key)) continue;
            if (h.Key.Equals(HeaderNames.Date, StringComparison.OrdinalIgnoreCase) && CachedResponse.ParseDate(h.Value, responseTime) is null) continue;
            merged.Add(h);
        }

        if (!notModifiedHeaders.ContainsKey(HeaderNames.Date) || CachedResponse.ParseDate(notModifiedHeaders.Date, responseTime) is null)
        {
            merged.RemoveAll(h => h.Key.Equals(HeaderNames.Date, StringComparison.OrdinalIgnoreCase));
            merged.Add(new(HeaderNames.Date, HeaderUtilities.FormatDate(responseTime)));
        }

        return Build(stored.StatusCode, [.. merged], stored.Body, requestTime, responseTime, Freshness.ParseAge(notModifiedHeaders.Age), requestHeaders, heuristics, stored.StoredAt);
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
        };
    }
}
