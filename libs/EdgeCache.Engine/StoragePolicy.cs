using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace EdgeCache.Engine;

/// <summary>Why a response was or was not stored.</summary>
public enum StoreDecision
{
    Store,
    MethodNotCacheable,
    StatusNotCacheable,
    RequestNoStore,
    ResponseNoStore,
    Private,
    Authorization,
    SetCookie,
    VaryStar,
    NoFreshnessInformation,
    TooLarge,

    /// <summary>The response's Content-Encoding is not one the request that fetched it accepts: stored,
    /// it would sit under a variant whose clients cannot decode it.</summary>
    EncodingNotAccepted,

    /// <summary>No freshness and no validator: it could never be served without going upstream.</summary>
    NeverReusable,

    /// <summary>A POST's response whose Content-Location is absent or is not the POST's target URI
    /// (RFC 9110 §9.3.3): it is not a representation of the target, so it is not stored as one.</summary>
    ContentLocationNotTarget,

    /// <summary>A 206 this cache cannot store as a partial (RFC 9111 §3.3): not one byte range of a known
    /// complete length (<c>multipart/byteranges</c>, <c>/*</c>, another unit), or a length that contradicts it.</summary>
    PartialNotUnderstood,
}

/// <summary>RFC 9111 §3 (storing responses) for a shared cache, plus the Set-Cookie safety setting.</summary>
public static class StoragePolicy
{
    /// <summary>
    /// The directives this cache obeys for a response (RFC 9213 §2.1): the first valid, non-empty
    /// targeted field of <c>EdgeCache-Cache-Control</c> (this CDN's own) and <c>CDN-Cache-Control</c>,
    /// and then Cache-Control and Expires are ignored; else Cache-Control and Expires.
    /// </summary>
    public static (CacheDirectives Directives, bool UseExpires) EffectiveDirectives(IHeaderDictionary responseHeaders)
    {
        if (Targeted(responseHeaders[HeaderRules.EdgeCacheCacheControl]) is { } own) return (own, false);
        if (Targeted(responseHeaders[HeaderRules.CdnCacheControl]) is { } cdn) return (cdn, false);
        return (CacheDirectives.Parse(responseHeaders.CacheControl), true);
    }

    /// <summary>
    /// A targeted field's directives, read as a Structured Field Dictionary (parameters ignored), or
    /// null when it is to be ignored as if absent (RFC 9213 §2.1): empty, not a valid dictionary, or
    /// with a delta-seconds directive that is not an integer (<c>max-age="10000"</c>).
    /// </summary>
    private static CacheDirectives? Targeted(StringValues field) =>
        StructuredFieldSyntax.TryReadCacheDirectives(field, out var directives) ? directives : null;

    /// <summary>
    /// Status codes whose caching rules this cache implements (RFC 9111 §3, §5.2.2.3): the
    /// heuristically cacheable ones (RFC 9110 §15.1; 206 as a partial, §3.3) and the redirects
    /// 302, 303 and 307. Any other status with must-understand is not stored.
    /// </summary>
    public static bool IsUnderstood(int status) =>
        status is 200 or 203 or 204 or 206 or 300 or 301 or 302 or 303 or 307 or 308 or 404 or 405 or 410 or 414 or 501;

    /// <summary>An error status that is not heuristically cacheable: 400 and up but 404, 405, 410, 414 and 501.</summary>
    public static bool IsErrorStatus(int status) => status >= 400 && !Freshness.IsHeuristicallyCacheable(status);

    /// <summary>Explicit freshness (RFC 9111 §4.2.1): s-maxage, max-age, or Expires where the effective
    /// directives come from Cache-Control (see <see cref="EffectiveDirectives"/>); never heuristic.</summary>
    public static bool HasExplicitFreshness(CacheDirectives cc, bool useExpires, IHeaderDictionary responseHeaders) =>
        cc.SharedMaxAge is not null || cc.MaxAge is not null || (useExpires && responseHeaders.ContainsKey(HeaderNames.Expires));

    public static StoreDecision Evaluate(string method, IHeaderDictionary requestHeaders, int status, IHeaderDictionary responseHeaders, HostCachePolicy policy)
    {
        // §3: the method is cacheable (GET; HEAD is answered from stored GET responses).
        if (!HttpMethods.IsGet(method)) return StoreDecision.MethodNotCacheable;

        // §3: final status code, and one this cache understands. A 304 is never stored; a 206 only as
        // a partial of one byte range of a known complete length (§3.3, PartialContent.IsStorable).
        if (status < 200 || status == 304) return StoreDecision.StatusNotCacheable;
        if (status == 206 && !PartialContent.IsStorable(responseHeaders)) return StoreDecision.PartialNotUnderstood;

        // Error responses other than the heuristically cacheable ones (404, 405, 410, 414, 501) are
        // never stored, whatever their Cache-Control: an error provoked by one client's odd request
        // (an oversized or malformed header) must not be served to everyone (cache-poisoned DoS).
        // RFC 9111 allows a cache to decline to store any response.
        // A host's StoreErrorStatuses stores them when they carry explicit freshness, as RFC 9111
        // allows, for at most ErrorStatusMaxAge.
        var errorStatus = IsErrorStatus(status);
        if (errorStatus && !policy.StoreErrorStatuses) return StoreDecision.StatusNotCacheable;

        var request = CacheDirectives.Parse(requestHeaders.CacheControl);
        if (request.NoStore) return StoreDecision.RequestNoStore;

        var (cc, useExpires) = EffectiveDirectives(responseHeaders);

        // §5.2.2.3: must-understand limits storing to a cache that implements the status code's
        // caching rules; when this cache does, no-store is ignored (the origin's fallback for caches
        // that do not), and when it does not, the response is not stored.
        if (cc.MustUnderstand && !IsUnderstood(status)) return StoreDecision.StatusNotCacheable;
        if (cc.NoStore && !cc.MustUnderstand) return StoreDecision.ResponseNoStore;
        if (cc.Private) return StoreDecision.Private;

        // §3.5: a shared cache must not store a response to a request with Authorization unless
        // the response explicitly allows it.
        if (requestHeaders.ContainsKey(HeaderNames.Authorization) && !(cc.MustRevalidate || cc.Public || cc.SharedMaxAge is not null))
        {
            return StoreDecision.Authorization;
        }

        if (!policy.StoreSetCookie && responseHeaders.ContainsKey(HeaderNames.SetCookie)) return StoreDecision.SetCookie;

        foreach (var name in Vary.ParseNames(responseHeaders.Vary))
        {
            if (name == "*") return StoreDecision.VaryStar;
        }

        // A variant holds only bytes its clients can decode (RFC 9110 §12.5.3): the coding applied
        // must be one the request accepts, whatever the normalised Accept-Encoding says.
        if (!ContentCoding.Accepts(requestHeaders.AcceptEncoding, ContentCoding.Of(responseHeaders.ContentEncoding)))
        {
            return StoreDecision.EncodingNotAccepted;
        }

        // §3: explicit freshness (Expires, max-age, s-maxage), public, a heuristically cacheable
        // status, or no-cache (stored but always revalidated, §5.2.2.4) with a validator.
        var explicitFresh = HasExplicitFreshness(cc, useExpires, responseHeaders);
        if (errorStatus && !explicitFresh) return StoreDecision.NoFreshnessInformation;
        if (explicitFresh || cc.Public || Freshness.IsHeuristicallyCacheable(status)) return StoreDecision.Store;
        if (cc.NoCache && (responseHeaders.ContainsKey(HeaderNames.ETag) || responseHeaders.ContainsKey(HeaderNames.LastModified)))
        {
            return StoreDecision.Store;
        }

        return StoreDecision.NoFreshnessInformation;
    }
}
