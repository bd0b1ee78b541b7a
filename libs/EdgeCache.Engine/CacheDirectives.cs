using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine;

/// <summary>
/// Parsed Cache-Control (or CDN-Cache-Control) directives, RFC 9111 §5.2 and RFC 5861.
/// Unknown directives are ignored (§5.2.3). Arguments may be tokens or quoted strings (§5.2).
/// A delta-seconds argument that is not a non-negative integer makes the directive invalid,
/// which a cache treats as the most restrictive reading (a stale response).
/// </summary>
public readonly record struct CacheDirectives
{
    /// <summary>Delta-seconds larger than this are treated as this value (RFC 9111 §1.2.2).</summary>
    public const long MaxDeltaSeconds = 2147483648;

    public bool Present { get; init; }
    public bool NoStore { get; init; }
    public bool NoCache { get; init; }
    public bool Private { get; init; }
    public bool Public { get; init; }
    public bool MustRevalidate { get; init; }
    public bool ProxyRevalidate { get; init; }
    public bool OnlyIfCached { get; init; }
    public bool NoTransform { get; init; }
    public bool Immutable { get; init; }

    /// <summary>must-understand (RFC 9111 §5.2.2.3): store only with a status code this cache understands,
    /// and then no-store is ignored.</summary>
    public bool MustUnderstand { get; init; }

    /// <summary>max-age seconds; null when absent. -1 when present but invalid.</summary>
    public long? MaxAge { get; init; }
    public long? SharedMaxAge { get; init; }
    public long? MinFresh { get; init; }
    /// <summary>max-stale: null when absent, <see cref="long.MaxValue"/> when present without a value.</summary>
    public long? MaxStale { get; init; }
    public long? StaleWhileRevalidate { get; init; }
    public long? StaleIfError { get; init; }

    public static CacheDirectives Parse(StringValues values)
    {
        var d = new CacheDirectives();
        if (StringValues.IsNullOrEmpty(values))
        {
            return d;
        }

        d = d with { Present = true };
        foreach (var line in values)
        {
            if (string.IsNullOrEmpty(line))
            {
                continue;
            }

            var rest = line.AsSpan();
            while (!rest.IsEmpty)
            {
                var item = NextItem(ref rest);
                item = item.Trim(" \t");
                if (item.IsEmpty)
                {
                    continue;
                }

                var eq = item.IndexOf('=');
                var name = (eq < 0 ? item : item[..eq]).Trim(" \t");
                var arg = eq < 0 ? ReadOnlySpan<char>.Empty : Unquote(item[(eq + 1)..].Trim(" \t"));
                var hasArg = eq >= 0;
                d = Apply(d, name, arg, hasArg);
            }
        }

        return d;
    }

    /// <summary>
    /// Adds one directive. A repeated delta directive keeps its first value in Cache-Control
    /// (RFC 9111 §4.2.1); with <paramref name="lastWins"/>, as in a Structured Field Dictionary
    /// (RFC 8941 §4.2.2), the later value replaces it.
    /// </summary>
    internal static CacheDirectives Apply(CacheDirectives d, ReadOnlySpan<char> name, ReadOnlySpan<char> arg, bool hasArg, bool lastWins = false)
    {
        if (lastWins) d = Forget(d, name);
        if (Is(name, "no-store")) return d with { NoStore = true };
        // no-cache and private with field-names are treated as unqualified: the stricter reading.
        if (Is(name, "no-cache")) return d with { NoCache = true };
        if (Is(name, "private")) return d with { Private = true };
        if (Is(name, "public")) return d with { Public = true };
        if (Is(name, "must-revalidate")) return d with { MustRevalidate = true };
        if (Is(name, "proxy-revalidate")) return d with { ProxyRevalidate = true };
        if (Is(name, "only-if-cached")) return d with { OnlyIfCached = true };
        if (Is(name, "no-transform")) return d with { NoTransform = true };
        if (Is(name, "immutable")) return d with { Immutable = true };
        if (Is(name, "must-understand")) return d with { MustUnderstand = true };
        // First occurrence wins for repeated directives (RFC 9111 §4.2.1).
        if (Is(name, "max-age")) return d.MaxAge is null ? d with { MaxAge = Delta(arg, hasArg) } : d;
        if (Is(name, "s-maxage")) return d.SharedMaxAge is null ? d with { SharedMaxAge = Delta(arg, hasArg) } : d;
        if (Is(name, "min-fresh")) return d.MinFresh is null ? d with { MinFresh = Delta(arg, hasArg) } : d;
        if (Is(name, "max-stale"))
        {
            return d.MaxStale is null ? d with { MaxStale = hasArg ? Delta(arg, hasArg) : long.MaxValue } : d;
        }

        if (Is(name, "stale-while-revalidate")) return d.StaleWhileRevalidate is null ? d with { StaleWhileRevalidate = Delta(arg, hasArg) } : d;
        if (Is(name, "stale-if-error")) return d.StaleIfError is null ? d with { StaleIfError = Delta(arg, hasArg) } : d;
        return d;
    }

    /// <summary>The directives without <paramref name="name"/>'s delta value, so a later member replaces it.</summary>
    private static CacheDirectives Forget(CacheDirectives d, ReadOnlySpan<char> name)
    {
        if (Is(name, "max-age")) return d with { MaxAge = null };
        if (Is(name, "s-maxage")) return d with { SharedMaxAge = null };
        if (Is(name, "stale-while-revalidate")) return d with { StaleWhileRevalidate = null };
        if (Is(name, "stale-if-error")) return d with { StaleIfError = null };
        return d;
    }

    private static bool Is(ReadOnlySpan<char> name, string expected) =>
        name.Equals(expected, StringComparison.OrdinalIgnoreCase);

    /// <summary>Parses delta-seconds; -1 means invalid (the caller treats it as "already stale").</summary>
    internal static long Delta(ReadOnlySpan<char> arg, bool hasArg)
    {
        if (!hasArg || arg.IsEmpty)
        {
            return -1;
        }

        long value = 0;
        foreach (var c in arg)
        {
            if (c is < '0' or > '9')
            {
                return -1;
            }

            if (value < MaxDeltaSeconds)
            {
                value = value * 10 + (c - '0');
            }
        }

        return Math.Min(value, MaxDeltaSeconds);
    }

    /// <summary>Returns the next comma-separated item, honouring quoted strings.</summary>
    private static ReadOnlySpan<char> NextItem(ref ReadOnlySpan<char> rest)
    {
        var inQuotes = false;
        for (var i = 0; i < rest.Length; i++)
        {
            var c = rest[i];
            if (c == '"')
            {
                inQuotes = !inQuotes;
            }
            else if (c == '\\' && inQuotes)
            {
                i++;
            }
            else if (c == ',' && !inQuotes)
            {
                var item = rest[..i];
                rest = rest[(i + 1)..];
                return item;
            }
        }

        var last = rest;
        rest = ReadOnlySpan<char>.Empty;
        return last;
    }

    private static ReadOnlySpan<char> Unquote(ReadOnlySpan<char> arg) =>
        arg.Length >= 2 && arg[0] == '"' && arg[^1] == '"' ? arg[1..^1] : arg;
}
