using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine;

/// <summary>What may be done with a stored copy for one request.</summary>
public enum HitKind
{
    /// <summary>Fresh enough for this request: serve it.</summary>
    Fresh,

    /// <summary>Stale, but the request's <c>max-stale</c> allows it (RFC 9111 §4.2.4): serve it.</summary>
    Stale,

    /// <summary>Stale within <c>stale-while-revalidate</c> (RFC 5861 §3): serve it and refresh once in the background.</summary>
    StaleWhileRevalidate,

    /// <summary>Must be validated upstream before use (its validators go with the request).</summary>
    Revalidate,

    /// <summary>Cannot be used for this request at all (the client cannot decode its coding): a miss.</summary>
    Unusable,
}

/// <summary>The decision for one stored copy and one request, with the copy's age and remaining TTL.</summary>
public readonly record struct Hit(HitKind Kind, TimeSpan Age, long Ttl)
{
    /// <summary>True when the copy is served as it is (fresh, or stale where allowed).</summary>
    public bool Serves => Kind is HitKind.Fresh or HitKind.Stale;
}

/// <summary>
/// The one hit decision (RFC 9111 §4, RFC 5861): whether a stored copy may be served for a request,
/// and how. The full path, the fast path and the stale paths all call it; a faster path is a faster
/// caller, not a copy.
/// </summary>
public static class HitDecision
{
    /// <summary>
    /// Request fields that rule out a plain hit for cache reasons: directives, credentials,
    /// conditionals and ranges (any <c>If-</c> field). A request without them, on a node that is
    /// current, is decided with <see cref="Evaluate"/> and default directives alone.
    /// </summary>
    public static readonly string[] PlainHitExclusions = ["Cache-Control", "Pragma", "Authorization", "Range", HeaderRules.Warm];

    /// <summary>The prefix of the conditional request fields (RFC 9110 §13.1), which also rule out a plain hit.</summary>
    public const string ConditionalPrefix = "If-";

    /// <summary>
    /// Decides for <paramref name="stored"/>: <paramref name="request"/> are the request's effective
    /// directives, <paramref name="forced"/> says the client asked to revalidate (no-cache),
    /// <paramref name="current"/> whether this node has confirmed it holds every purge, and
    /// <paramref name="acceptsCoding"/> whether the client can decode the copy's coding
    /// (<see cref="ClientAccepts"/>).
    /// </summary>
    public static Hit Evaluate(CachedResponse stored, in CacheDirectives request, bool forced, bool current, bool acceptsCoding, DateTimeOffset now)
    {
        var age = stored.CurrentAge(now);
        var lifetime = stored.FreshnessLifetime;
        var ttl = Ttl(lifetime, age);
        if (!acceptsCoding) return new Hit(HitKind.Unusable, age, ttl);

        // A node that cannot confirm it has every purge revalidates instead of serving from store.
        if (forced || !current) return new Hit(HitKind.Revalidate, age, ttl);

        var fresh = !stored.MarkedStale && lifetime > age;
        var ageAllowed = request.MaxAge is not { } maxAge || (maxAge >= 0 && age <= TimeSpan.FromSeconds(maxAge));
        if (fresh && ageAllowed && !stored.Directives.NoCache
            && (request.MinFresh is not { } minFresh || (minFresh >= 0 && lifetime - age >= TimeSpan.FromSeconds(minFresh))))
        {
            return new Hit(HitKind.Fresh, age, ttl);
        }

        // Stale: only where the client or the response allows it (RFC 9111 §4.2.4, RFC 5861).
        var staleBy = age - lifetime;
        var mayServeStale = !fresh && ageAllowed && !stored.MustRevalidateWhenStale && !stored.Directives.NoCache;
        if (mayServeStale && request.MaxStale is { } maxStale && maxStale >= 0 && staleBy <= TimeSpan.FromSeconds(maxStale) && !stored.MarkedStale)
        {
            return new Hit(HitKind.Stale, age, ttl);
        }

        if (mayServeStale && stored.Directives.StaleWhileRevalidate is { } swr && swr >= 0 && staleBy <= TimeSpan.FromSeconds(swr))
        {
            return new Hit(HitKind.StaleWhileRevalidate, age, ttl);
        }

        return new Hit(HitKind.Revalidate, age, ttl);
    }

    /// <summary>True when a stored copy may answer a request because the upstream failed or answered
    /// 500, 502, 503 or 504: fresh, or stale within <c>stale-if-error</c> (RFC 5861 §4) of the response or the request.
    /// Never while the node is not <paramref name="current"/> (its lease lapsed): the copy may be one a purge it
    /// has not seen removed, and the purge API no longer waits for this node, so serving it would break
    /// read-your-purge. Found on the namespaces cluster: an edge cut off from NATS and its shields served
    /// purged copies as "stale-if-error" of its failed revalidations.</summary>
    public static bool MayServeOnError(CachedResponse stored, in CacheDirectives request, bool current, DateTimeOffset now)
    {
        if (!current || stored.MustRevalidateWhenStale) return false;
        var staleBy = stored.CurrentAge(now) - stored.FreshnessLifetime;
        if (staleBy <= TimeSpan.Zero && !stored.MarkedStale) return true;
        var allowed = Math.Max(stored.Directives.StaleIfError ?? -1, request.StaleIfError ?? -1);
        return allowed >= 0 && staleBy <= TimeSpan.FromSeconds(allowed);
    }

    /// <summary>True when the client can decode the stored copy's coding (<see cref="ContentCoding.Accepts"/>).</summary>
    public static bool ClientAccepts(CachedResponse stored, StringValues acceptEncoding) =>
        stored.ContentCoding is null || ContentCoding.Accepts(acceptEncoding, stored.ContentCoding);

    /// <summary><see cref="ClientAccepts(CachedResponse, StringValues)"/> for an already normalised Accept-Encoding.</summary>
    public static bool ClientAcceptsNormalized(CachedResponse stored, string normalizedAcceptEncoding) =>
        ContentCoding.AcceptsNormalized(normalizedAcceptEncoding, stored.ContentCoding);

    /// <summary>True when a copy fetched for another request can answer this one too: it is the variant
    /// this request selects (Vary) and the client can decode it.</summary>
    public static bool Selects(CachedResponse stored, IHeaderDictionary requestHeaders) =>
        Vary.Matches(stored, requestHeaders) && ClientAccepts(stored, requestHeaders.AcceptEncoding);

    /// <summary>Remaining freshness in whole seconds, as Cache-Status's <c>ttl</c> shows it (negative when stale).</summary>
    public static long Ttl(CachedResponse stored, DateTimeOffset now) => Ttl(stored.FreshnessLifetime, stored.CurrentAge(now));

    private static long Ttl(TimeSpan lifetime, TimeSpan age) => (long)Math.Floor((lifetime - age).TotalSeconds);

    /// <summary>True when a stored copy could ever be used without first going upstream, or can be
    /// revalidated: some freshness, a validator, or a stale-while-revalidate / stale-if-error window.
    /// Anything else is not worth a cache entry (each made-up URL would cost one).</summary>
    public static bool IsReusable(CachedResponse stored) =>
        stored.FreshnessLifetime > TimeSpan.Zero || stored.ETag is not null || stored.LastModified is not null
        || stored.Directives.StaleWhileRevalidate > 0 || stored.Directives.StaleIfError > 0;
}
