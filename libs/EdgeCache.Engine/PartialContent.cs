using System.Globalization;
using Microsoft.AspNetCore.Http;
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
    /// True when a new response has the stored partial's strong validator (RFC 9111 §3.4, RFC 9110
    /// §8.8.3.2 strong comparison): both carry the same entity-tag and neither is weak. Only then are
    /// their bytes parts of one representation that may be combined.
    /// </summary>
    public static bool SameStrongValidator(CachedResponse stored, IHeaderDictionary newResponse)
    {
        if (stored.ETag is not { } etag || IsWeak(etag)) return false;
        var other = newResponse.ETag;
        return other.Count == 1 && other[0] is { } tag && !IsWeak(tag) && string.Equals(tag, etag, StringComparison.Ordinal);
    }

    /// <summary>
    /// The Range a request that completes <paramref name="span"/> sends upstream (RFC 9111 §3.3, with
    /// If-Range: the partial's strong entity-tag): the rest after a prefix, or the rest before a suffix.
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

    /// <summary>True when <paramref name="stored"/> may be completed with a range request: a partial with a strong entity-tag.</summary>
    public static bool MayComplete(CachedResponse stored) =>
        stored.Partial is { } span && CompletionRange(span) is not null && stored.ETag is { } etag && !IsWeak(etag);

    private static bool IsWeak(string etag) => etag.StartsWith("W/", StringComparison.Ordinal) || !etag.StartsWith('"');
}
