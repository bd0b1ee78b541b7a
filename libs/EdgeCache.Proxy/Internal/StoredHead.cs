using System.Globalization;
using System.Text;
using EdgeCache.Engine;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace EdgeCache.Proxy.Internal;

/// <summary>Where <see cref="StoredHead"/> puts a field: Kestrel's response headers, or the fast path's bytes.</summary>
internal interface IHeadSink
{
    void Add(string name, StringValues values);
}

/// <summary>
/// The one writer of the head of a response served from a stored copy: the stored fields a client
/// gets, Content-Range, Accept-Ranges, Via, the stored sequence (shields), Content-Length, then Age
/// and Cache-Status. The full path (<see cref="ResponseWriter"/>) and the fast path
/// (<see cref="FastHits.WireHead"/>) both write through it, so what they send is the same by
/// construction.
/// </summary>
internal static class StoredHead
{
    /// <summary>The fields of a <paramref name="status"/> response from <paramref name="entry"/> that do
    /// not change from one hit to the next (everything but Age and Cache-Status).</summary>
    public static void WriteFields<TSink>(ref TSink sink, CachedResponse entry, CacheEngine engine, HostCachePolicy policy, int status, string? contentRange, long? contentLength)
        where TSink : struct, IHeadSink
    {
        foreach (var h in entry.Headers)
        {
            if (IsSentFromStore(h.Key, status, engine, policy)) sink.Add(h.Key, h.Value);
        }

        if (contentRange is not null) sink.Add(HeaderNames.ContentRange, contentRange);
        if (status == StatusCodes.Status200OK) sink.Add(HeaderNames.AcceptRanges, "bytes");
        WriteTierFields(ref sink, entry, engine);
        if (contentLength is { } length) sink.Add(HeaderNames.ContentLength, length.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>The fields of a 416 for a stored copy of <paramref name="total"/> bytes: no stored field
    /// describes this answer, which has no content.</summary>
    public static void WriteUnsatisfiableFields<TSink>(ref TSink sink, CachedResponse entry, CacheEngine engine, long total)
        where TSink : struct, IHeadSink
    {
        sink.Add(HeaderNames.ContentRange, "bytes */" + total.ToString(CultureInfo.InvariantCulture));
        WriteTierFields(ref sink, entry, engine);
        sink.Add(HeaderNames.ContentLength, "0");
    }

    /// <summary>
    /// The fields of a 304 answered from <paramref name="entry"/> (RFC 9111 §4.3.2). RFC 9110 §15.4.5
    /// lists the fields a 304 must carry; it may carry more that guide cache updates, and the next tier
    /// down is a cache (RFC 9111 §4.3.4), so every stored field goes except those that describe a body.
    /// </summary>
    public static void WriteNotModifiedFields<TSink>(ref TSink sink, CachedResponse entry, CacheEngine engine, HostCachePolicy policy)
        where TSink : struct, IHeadSink
    {
        foreach (var h in entry.Headers)
        {
            if (HeaderRules.IsKeptOnUpdate(h.Key) || engine.HidesFromClients(h.Key, policy) || h.Key.Equals(HeaderNames.Via, StringComparison.OrdinalIgnoreCase)) continue;
            sink.Add(h.Key, h.Value);
        }

        WriteTierFields(ref sink, entry, engine);
    }

    /// <summary>Age and Cache-Status: the two fields that change with the clock.</summary>
    public static void WriteAgeAndStatus<TSink>(ref TSink sink, long age, StringValues cacheStatus)
        where TSink : struct, IHeadSink
    {
        sink.Add(HeaderNames.Age, age.ToString(CultureInfo.InvariantCulture));
        sink.Add(HeaderRules.CacheStatus, cacheStatus);
    }

    /// <summary>This tier's Via entry after the stored ones, and (on a shield) the stored sequence.</summary>
    private static void WriteTierFields<TSink>(ref TSink sink, CachedResponse entry, CacheEngine engine)
        where TSink : struct, IHeadSink
    {
        sink.Add(HeaderNames.Via, RequestRewriter.AppendVia(entry.GetHeader(HeaderNames.Via), engine.ViaToken));

        if (engine.SendsStoredSeq) sink.Add(HeaderRules.StoredSeq, entry.StoredSeq.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// True for a stored field a hit sends as stored: not Content-Length (the body's length is sent),
    /// not a field hidden from clients, and not one the hit sets itself (Age, Via, Cache-Status,
    /// the stored sequence on a shield, a 200's Accept-Ranges, a 206's Content-Range: a stored
    /// partial's own is replaced by the range sent).
    /// </summary>
    private static bool IsSentFromStore(string name, int status, CacheEngine engine, HostCachePolicy policy) =>
        !name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase)
        && !name.Equals(HeaderNames.Age, StringComparison.OrdinalIgnoreCase)
        && !name.Equals(HeaderNames.Via, StringComparison.OrdinalIgnoreCase)
        && !name.Equals(HeaderRules.CacheStatus, StringComparison.OrdinalIgnoreCase)
        && !(status == StatusCodes.Status200OK && name.Equals(HeaderNames.AcceptRanges, StringComparison.OrdinalIgnoreCase))
        && !(status == StatusCodes.Status206PartialContent && name.Equals(HeaderNames.ContentRange, StringComparison.OrdinalIgnoreCase))
        && !(engine.SendsStoredSeq && name.Equals(HeaderRules.StoredSeq, StringComparison.OrdinalIgnoreCase))
        && !engine.HidesFromClients(name, policy);

    /// <summary>Fields into Kestrel's response headers.</summary>
    public readonly struct Headers(IHeaderDictionary headers) : IHeadSink
    {
        public void Add(string name, StringValues values) => headers.Append(name, values);
    }

    /// <summary>Fields as HTTP/1.1 field lines.</summary>
    public readonly struct Lines(StringBuilder text) : IHeadSink
    {
        public void Add(string name, StringValues values)
        {
            foreach (var value in values)
            {
                if (value is null) continue;

                // A line break in a value is refused by the fast path's visible-ASCII check.
                text.Append(name).Append(": ").Append(value.AsSpan().IndexOfAny('\r', '\n') >= 0 ? "\u0001" : value).Append("\r\n");
            }
        }
    }
}
