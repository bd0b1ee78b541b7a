using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine;

/// <summary>
/// When a POST's response may be stored, as the GET response of the POST's target URI (RFC 9110 §9.3.3,
/// RFC 9111 §4): only on a host with <see cref="HostCachePolicy.StorePostResponses"/>, only a 2xx, only
/// with explicit freshness (no heuristics) and a Content-Location that resolves to the target URI, and
/// then only when every rule <see cref="StoragePolicy.Evaluate"/> applies to a GET allows it
/// (no-store, private, Authorization, Set-Cookie, Vary: *, content codings …). A stored POST response is
/// never used to answer a POST: it serves later GET and HEAD requests like any stored GET response.
/// </summary>
public static class PostResponseStorage
{
    /// <param name="primaryKey">The POST's target URI as its cache key (<see cref="CacheKey.Build"/>).</param>
    public static StoreDecision Evaluate(string primaryKey, IHeaderDictionary requestHeaders, int status, IHeaderDictionary responseHeaders, HostCachePolicy policy)
    {
        if (!policy.StorePostResponses) return StoreDecision.MethodNotCacheable;
        if (status is < 200 or > 299) return StoreDecision.StatusNotCacheable;
        if (!ContentLocationIsTarget(primaryKey, responseHeaders.ContentLocation, policy)) return StoreDecision.ContentLocationNotTarget;
        var (cc, useExpires) = StoragePolicy.EffectiveDirectives(responseHeaders);
        if (!StoragePolicy.HasExplicitFreshness(cc, useExpires, responseHeaders)) return StoreDecision.NoFreshnessInformation;
        return StoragePolicy.Evaluate(HttpMethods.Get, requestHeaders, status, responseHeaders, policy);
    }

    /// <summary>
    /// True when <paramref name="contentLocation"/> is one value that, resolved against the target URI
    /// (RFC 9110 §8.7: an absolute URI or a relative reference), makes the same cache key as the target:
    /// same scheme, host and port, path and query, after the key's own normalisation. No userinfo, no fragment.
    /// </summary>
    public static bool ContentLocationIsTarget(string primaryKey, StringValues contentLocation, HostCachePolicy policy)
    {
        if (contentLocation.Count != 1 || string.IsNullOrWhiteSpace(contentLocation[0])) return false;
        if (!Uri.TryCreate(primaryKey, UriKind.Absolute, out var target)) return false;
        if (!Uri.TryCreate(target, contentLocation[0]!.Trim(), out var resolved)) return false;
        if (resolved.Scheme is not ("http" or "https") || resolved.UserInfo.Length > 0 || resolved.Fragment.Length > 0) return false;
        var authority = resolved.IsDefaultPort ? resolved.Host : resolved.Authority;
        return string.Equals(CacheKey.Build(resolved.Scheme, authority, resolved.PathAndQuery, policy), primaryKey, StringComparison.Ordinal);
    }
}
