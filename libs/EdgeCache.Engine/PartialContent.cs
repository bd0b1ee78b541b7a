using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace EdgeCache.Engine;

/// <summary>
/// Stored partial responses (RFC 9111 §3.3, §3.4): which 206s may be stored, which requests a stored
/// one answers, how it is completed. Every path that meets a partial asks here.
/// </summary>
public static class PartialContent
{
    /// <summary>
    /// True when a 206 may be stored as a partial (RFC 9111 §3.3: only with Range and Content-Range
    /// understood): one byte range of a known complete length (<see cref="PartialSpan.TryParse"/>),
    /// not <c>multipart/byteranges</c>, and a Content-Length, when there is one, that is the span's.
    /// The body's own length is checked again once it is complete.
    /// </summary>
    public static bool IsStorable(IHeaderDictionary responseHeaders)
    {
        if (!PartialSpan.TryParse(responseHeaders.ContentRange, out var span)) return false;
        foreach (var type in responseHeaders.ContentType)
        {
            if (type is not null && type.AsSpan().TrimStart(" \t").StartsWith("multipart/byteranges", StringComparison.OrdinalIgnoreCase)) return false;
        }

        var length = responseHeaders.ContentLength;
        return length is null || length == span.Length;
    }

    /// <summary>
    /// True when <paramref name="stored"/>, a partial, answers this request (RFC 9111 §3.3: "a
    /// cache MUST NOT use an incomplete response to answer requests unless ... the request is
    /// partial and specifies a range wholly within the incomplete response"): a GET whose Range,
    /// evaluated against the complete length (<see cref="ByteRange.Evaluate"/>: one range, or ranges
    /// that coalesce into one), lies inside the stored span, whose If-Range (RFC 9110 §13.1.5) allows
    /// the range, and with no other precondition (those go upstream: the cache does not answer a 304
    /// or 412 from a partial). <paramref name="start"/> and <paramref name="count"/> are the bytes to
    /// send, as positions in the complete representation.
    /// </summary>
    public static bool Answers(CachedResponse stored, string method, IHeaderDictionary request, DateTimeOffset now, out long start, out long count)
    {
        start = count = 0;
        if (stored.Partial is not { } span || !HttpMethods.IsGet(method)) return false;
        if (!request.ContainsKey(HeaderNames.Range) || Conditionals.HasConditions(request)) return false;
        if (!Conditionals.IfRangeAllows(request, stored, now)) return false;
        return ByteRange.Evaluate(request.Range, span.Complete, out start, out count) == RangeOutcome.Partial && span.Covers(start, count);
    }

    /// <summary>
    /// The validator that makes a stored partial's bytes safe to combine with others (RFC 9111 §3.4) and
    /// that a request completing it sends in If-Range (RFC 9110 §13.1.5): its entity-tag when strong;
    /// with no entity-tag at all, its Last-Modified as the origin wrote it when that is strong (RFC 9110
    /// §8.8.2.2: at least 60 seconds before its Date, the rule for a cache comparing validators); else
    /// null. A weak entity-tag rules out If-Range altogether (§13.1.5: a date only without an entity-tag).
    /// </summary>
    public static string? StrongValidator(CachedResponse stored)
    {
        if (stored.ETag is { } etag) return IsWeak(etag) ? null : etag;
        if (!IsStrongDate(stored.LastModified, stored.GetHeader(HeaderNames.Date), stored.ResponseTime)) return null;
        var lm = stored.GetHeader(HeaderNames.LastModified);
        return lm.Count == 1 ? lm[0] : null;
    }

    /// <summary>
    /// True when a new response has the stored partial's strong validator (RFC 9111 §3.4; RFC 9110
    /// §8.8.3.2 strong comparison): the same entity-tag, neither weak; or, when neither has an
    /// entity-tag, the same Last-Modified, strong in both (<see cref="StrongValidator"/>). Only then
    /// are their bytes parts of one representation that may be combined.
    /// </summary>
    public static bool SameStrongValidator(CachedResponse stored, IHeaderDictionary newResponse)
    {
        if (StrongValidator(stored) is null) return false;
        var other = newResponse.ETag;
        if (stored.ETag is { } etag)
        {
            return other.Count == 1 && other[0] is { } tag && !IsWeak(tag) && string.Equals(tag, etag, StringComparison.Ordinal);
        }

        if (other.Count > 0) return false;
        var now = stored.ResponseTime;
        return CachedResponse.ParseDate(newResponse.LastModified, now) is { } lm && lm == stored.LastModified
            && IsStrongDate(lm, newResponse.Date, now);
    }

    private static bool IsStrongDate(DateTimeOffset? lastModified, StringValues date, DateTimeOffset now) =>
        lastModified is { } lm && CachedResponse.ParseDate(date, now) is { } d && d - lm >= StrongDateMargin;

    /// <summary>How long before its Date a Last-Modified must be to count as strong (RFC 9110 §8.8.2.2).</summary>
    private static readonly TimeSpan StrongDateMargin = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The Range a request that completes <paramref name="span"/> sends upstream (RFC 9111 §3.3, with
    /// If-Range: the partial's <see cref="StrongValidator"/>): the rest after a prefix, or the rest before a suffix.
    /// Null for a span in the middle (two ranges would come back as multipart, which is not stored):
    /// then the whole representation is asked for.
    /// </summary>
    public static string? CompletionRange(PartialSpan span)
    {
        if (span.IsWhole) return null;
        if (span.First == 0) return "bytes=" + (span.Last + 1).ToString(CultureInfo.InvariantCulture) + "-";
        if (span.Last == span.Complete - 1) return "bytes=0-" + (span.First - 1).ToString(CultureInfo.InvariantCulture);
        return null;
    }

    /// <summary>True when <paramref name="stored"/> may be completed with a range request: a prefix or a
    /// suffix with a <see cref="StrongValidator"/>.</summary>
    public static bool MayComplete(CachedResponse stored) =>
        stored.Partial is { } span && CompletionRange(span) is not null && StrongValidator(stored) is not null;

    private static bool IsWeak(string etag) => etag.StartsWith("W/", StringComparison.Ordinal) || !etag.StartsWith('"');
}
