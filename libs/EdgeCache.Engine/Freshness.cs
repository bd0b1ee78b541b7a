using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine;

/// <summary>Freshness lifetime and age arithmetic of RFC 9111 §4.2.</summary>
public static class Freshness
{
    /// <summary>Status codes that are heuristically cacheable (RFC 9110 §15.1).</summary>
    public static bool IsHeuristicallyCacheable(int status) =>
        status is 200 or 203 or 204 or 206 or 300 or 301 or 308 or 404 or 405 or 410 or 414 or 501;

    /// <summary>
    /// The freshness lifetime for a shared cache (§4.2.1): s-maxage, then max-age, then
    /// Expires minus Date, then a heuristic (§4.2.2) when allowed. Returns null when the response
    /// carries no explicit freshness and no heuristic applies. Expires is read strictly
    /// (<see cref="HttpDate"/>); <paramref name="now"/> is the clock a two-digit RFC 850 year is
    /// read against, the response time when the caller has it, else <paramref name="date"/>.
    /// </summary>
    public static (TimeSpan Lifetime, bool Heuristic)? Lifetime(
        int status, CacheDirectives cc, bool useExpires, StringValues expires, DateTimeOffset date, DateTimeOffset? lastModified, HeuristicOptions heuristics, DateTimeOffset? now = null)
    {
        if (cc.SharedMaxAge is { } smax) return (Seconds(smax), false);
        if (cc.MaxAge is { } max) return (Seconds(max), false);
        if (useExpires && expires.Count > 0)
        {
            // An invalid Expires, such as "0" or a date in a form HTTP-date does not define, is a
            // time in the past (§5.3). A value over several field lines is one value joined with
            // commas, which no HTTP-date contains: invalid too.
            if (!HttpDate.TryParseField(expires, now ?? date, out var exp)) return (TimeSpan.Zero, false);
            var delta = exp - date;
            return (delta > TimeSpan.Zero ? delta : TimeSpan.Zero, false);
        }

        if (lastModified is { } lm && (IsHeuristicallyCacheable(status) || cc.Public) && heuristics.Fraction > 0)
        {
            var since = date - lm;
            if (since <= TimeSpan.Zero) return (TimeSpan.Zero, true);
            var h = TimeSpan.FromTicks((long)(since.Ticks * heuristics.Fraction));
            return (h > heuristics.Max ? heuristics.Max : h, true);
        }

        return null;
    }

    /// <summary>corrected_initial_age of §4.2.3.</summary>
    public static TimeSpan CorrectedInitialAge(DateTimeOffset requestTime, DateTimeOffset responseTime, DateTimeOffset dateValue, TimeSpan ageValue)
    {
        var apparentAge = Max(TimeSpan.Zero, responseTime - dateValue);
        var responseDelay = Max(TimeSpan.Zero, responseTime - requestTime);
        var correctedAgeValue = ageValue + responseDelay;
        return Max(apparentAge, correctedAgeValue);
    }

    /// <summary>current_age of §4.2.3.</summary>
    public static TimeSpan CurrentAge(TimeSpan correctedInitialAge, DateTimeOffset responseTime, DateTimeOffset now) =>
        correctedInitialAge + Max(TimeSpan.Zero, now - responseTime);

    /// <summary>The age at which any response is stale: what an invalid Age is read as.</summary>
    public static readonly TimeSpan InvalidAge = TimeSpan.FromSeconds(CacheDirectives.MaxDeltaSeconds);

    /// <summary>
    /// Parses an Age value (§5.1): a single non-negative delta-seconds. When the field arrives as a
    /// list (<c>7200, 0</c>, or several lines), its first member is used. A value that is not a
    /// delta-seconds (<c>7200;foo=bar</c>, <c>7200s</c>, <c>-5</c>, empty) must not make a stale
    /// response look fresh, so the response is treated as stale (<see cref="InvalidAge"/>), the
    /// safe reading §5.1 allows. Absent: zero.
    /// </summary>
    public static TimeSpan ParseAge(StringValues age)
    {
        if (age.Count == 0) return TimeSpan.Zero;
        var first = (age[0] ?? "").AsSpan();
        if (first.IndexOf(',') is >= 0 and var comma) first = first[..comma];
        var v = CacheDirectives.Delta(first.Trim(" \t"), true);
        return v < 0 ? InvalidAge : Seconds(v);
    }

    /// <summary>The Age header value in whole seconds, as sent to clients.</summary>
    public static long AgeSeconds(TimeSpan age) => Math.Min((long)age.TotalSeconds, CacheDirectives.MaxDeltaSeconds);

    private static TimeSpan Seconds(long s) => s < 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(s);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}

/// <summary>Heuristic freshness (RFC 9111 §4.2.2): a fraction of the time since Last-Modified, capped;
/// and the cap on the freshness of a stored error status (stored only where a host's
/// <see cref="HostCachePolicy.StoreErrorStatuses"/> allows).</summary>
public sealed record HeuristicOptions(double Fraction, TimeSpan Max)
{
    public static readonly HeuristicOptions Default = new(0.1, TimeSpan.FromDays(1));

    /// <summary>The longest an error status (400 and up, other than 404, 405, 410, 414, 501) stays fresh. Default 10 s.</summary>
    public TimeSpan ErrorStatusMax { get; init; } = TimeSpan.FromSeconds(10);
}
