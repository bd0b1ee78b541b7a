using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine;

/// <summary>
/// One Cache-Status list member (RFC 9211 §2): this cache's name and the parameters that describe
/// what it did. Build one with <see cref="ForHit"/> or <see cref="Forwarded"/> and <c>with</c>, then
/// <see cref="Format"/> it.
/// </summary>
public readonly record struct CacheStatus(string CacheName)
{
    /// <summary>Answered from this cache (<c>hit</c>).</summary>
    public bool Hit { get; init; }

    /// <summary>Why the request went upstream (<c>fwd</c>: uri-miss, vary-miss, miss, request, stale, partial, bypass, method); null on a hit.</summary>
    public string? Fwd { get; init; }

    /// <summary>The status the next hop answered (<c>fwd-status</c>).</summary>
    public int? FwdStatus { get; init; }

    /// <summary>The response was stored (<c>stored</c>).</summary>
    public bool Stored { get; init; }

    /// <summary>The request was collapsed with another (<c>collapsed</c>).</summary>
    public bool Collapsed { get; init; }

    /// <summary>Remaining freshness in seconds (<c>ttl</c>).</summary>
    public long? Ttl { get; init; }

    /// <summary>Implementation detail (<c>detail</c>: memory, disk, stale-while-revalidate …).</summary>
    public string? Detail { get; init; }

    /// <summary>A hit with its remaining freshness and where it came from.</summary>
    public static CacheStatus ForHit(string cacheName, long ttl, string detail) => new(cacheName) { Hit = true, Ttl = ttl, Detail = detail };

    /// <summary>A request sent upstream, and why.</summary>
    public static CacheStatus Forwarded(string cacheName, string fwd) => new(cacheName) { Fwd = fwd };

    /// <summary>The list member as sent: <c>Name; hit; fwd=…; fwd-status=…; stored; collapsed; ttl=…; detail=…</c>.</summary>
    public string Format()
    {
        // Every miss formats one: built in one buffer, not a string per parameter (each `+=` copied
        // the whole member so far, some 600 bytes of garbage per miss).
        var s = new System.Runtime.CompilerServices.DefaultInterpolatedStringHandler(0, 0, System.Globalization.CultureInfo.InvariantCulture, stackalloc char[128]);
        s.AppendLiteral(CacheName);
        if (Hit) s.AppendLiteral("; hit");
        if (Fwd is not null)
        {
            s.AppendLiteral("; fwd=");
            s.AppendLiteral(Fwd);
        }

        if (FwdStatus is { } fs)
        {
            s.AppendLiteral("; fwd-status=");
            s.AppendFormatted(fs);
        }

        if (Stored) s.AppendLiteral("; stored");
        if (Collapsed) s.AppendLiteral("; collapsed");
        if (Ttl is { } ttl)
        {
            s.AppendLiteral("; ttl=");
            s.AppendFormatted(ttl);
        }

        if (Detail is not null)
        {
            s.AppendLiteral("; detail=");
            s.AppendLiteral(Detail);
        }

        return s.ToStringAndClear();
    }

    public override string ToString() => Format();

    /// <summary>
    /// True when the last member of a received Cache-Status field named <paramref name="cacheName"/>
    /// says that cache holds the response: it answered from its store (<c>hit</c>) or stored what it
    /// forwarded (<c>stored</c>). An edge reads its shield's member this way to know the object has
    /// another copy upstream.
    /// </summary>
    public static bool Holds(StringValues cacheStatus, string cacheName)
    {
        // Every edge miss asks this of its shield's field: read in place, no string per member.
        var holds = false;
        foreach (var line in cacheStatus)
        {
            if (line is null) continue;
            var text = line.AsSpan();
            foreach (var m in text.Split(','))
            {
                var member = text[m].Trim();
                if (member.IsEmpty) continue;
                var parts = member.Split(';');
                if (!parts.MoveNext() || !member[parts.Current].Trim().SequenceEqual(cacheName)) continue;
                holds = false;
                while (parts.MoveNext())
                {
                    var p = member[parts.Current].Trim();
                    if (p.SequenceEqual("hit") || p.SequenceEqual("stored")) holds = true;
                }
            }
        }

        return holds;
    }
}
