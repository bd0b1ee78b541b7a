using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace EdgeCache.Engine;

/// <summary>
/// Derived representations: what a tier makes from a stored original (here a content coding; the
/// same model serves any transformation keyed by one negotiated request field). An original and
/// everything derived from it are variants of one URL under <c>Vary: Accept-Encoding</c>, each keyed by
/// the one coding negotiation picks (<see cref="AcceptEncodingNegotiation"/>), never by a client's raw
/// header. They share the original's freshness, stored sequence and surrogate keys, so purges, TTL
/// changes and soft purges apply to every one of them as to the URL.
/// </summary>
public static class Representation
{
    /// <summary>Codings this node can decode an original from (identity needs none).</summary>
    public static bool IsDecodable(string? coding) => coding is null or "gzip" or "br" or "zstd";

    /// <summary>
    /// True when a response may be the original of a set of representations, and so a tier may store it
    /// under its own coding and derive the others from it: a 200 to a GET; no <c>Cache-Control:
    /// no-transform</c> (RFC 9110 §7.7); a Vary that names no field but Accept-Encoding; no content coding,
    /// or one this node decodes. <paramref name="compressible"/> says whether other codings may be made
    /// (the host's content types and size bounds; an origin's own coding is then re-encoded for clients
    /// that negotiate another); when false, the only derivation is decoding for a client that cannot
    /// read the origin's coding.
    /// </summary>
    public static bool IsOriginal(int status, IHeaderDictionary headers, CompressionPolicy policy, out string? coding, out bool compressible)
    {
        coding = null;
        compressible = false;
        if (status != StatusCodes.Status200OK || headers.ContainsKey(HeaderNames.ContentRange)) return false;
        if (CacheDirectives.Parse(headers.CacheControl).NoTransform) return false;
        foreach (var name in Vary.ParseNames(headers.Vary))
        {
            if (name != "accept-encoding") return false;
        }

        var ce = headers.ContentEncoding;
        coding = ContentCoding.Of(ce);
        if (!IsDecodable(coding)) return false;
        var length = ContentLengthOf(headers);
        compressible = policy.Compresses(headers.ContentType)
            && (length is not { } n || (n >= policy.MinBytes && n <= policy.MaxBytes));
        return coding is not null || compressible;
    }

    /// <summary>The coding stored for a request that negotiated <paramref name="wanted"/> from an original
    /// in <paramref name="source"/> (null for identity): the wanted one when the original is in it or
    /// may be compressed, else identity (the original decoded).</summary>
    public static string? TargetCoding(string wanted, string? source, bool compressible) =>
        wanted == AcceptEncodingNegotiation.Identity ? null
        : wanted == source ? source
        : compressible ? wanted
        : null;

    /// <summary>The negotiated name of a coding (null is identity).</summary>
    public static string Name(string? coding) => coding ?? AcceptEncodingNegotiation.Identity;

    /// <summary>
    /// The original's fields as stored: its own, with Accept-Encoding added to Vary (merged with what the
    /// origin listed, RFC 9110 §12.5.5).
    /// </summary>
    public static void AddVary(IHeaderDictionary headers)
    {
        foreach (var name in Vary.ParseNames(headers.Vary))
        {
            if (name == "accept-encoding") return;
        }

        headers.Vary = StringValues.IsNullOrEmpty(headers.Vary) ? "Accept-Encoding" : StringValues.Concat(headers.Vary, "Accept-Encoding");
    }

    /// <summary>
    /// A representation derived from <paramref name="original"/> in <paramref name="coding"/> (null:
    /// identity), with <paramref name="body"/>, keyed by <paramref name="negotiated"/>: the original's
    /// fields with Content-Encoding set, no Content-Length (the body's own length is sent), and a strong
    /// or weak entity-tag given a suffix per coding (RFC 9110 §8.8.3: a different representation needs a
    /// different tag, so If-None-Match and If-Range work per encoding). Same freshness, sequence, tags.
    /// An encoding made at <paramref name="level"/> carries <see cref="HeaderRules.Encoded"/> saying so.
    /// </summary>
    public static CachedResponse Derive(CachedResponse original, string? coding, string negotiated, CacheBody body, int level = 0)
    {
        var headers = new List<KeyValuePair<string, StringValues>>(original.Headers.Length + 2);
        string? etag = null;
        foreach (var h in original.Headers)
        {
            if (h.Key.Equals(HeaderNames.ContentEncoding, StringComparison.OrdinalIgnoreCase)
                || h.Key.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase)
                || h.Key.Equals(HeaderRules.Encoded, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (h.Key.Equals(HeaderNames.ETag, StringComparison.OrdinalIgnoreCase))
            {
                etag = SuffixETag(h.Value.Count > 0 ? h.Value[0] : null, Name(coding));
                if (etag is not null) headers.Add(new(HeaderNames.ETag, etag));
                continue;
            }

            headers.Add(h);
        }

        if (coding is not null)
        {
            headers.Add(new(HeaderNames.ContentEncoding, coding));
            headers.Add(new(HeaderRules.Encoded, EncodedValue(coding, level)));
        }

        var names = original.VaryNames;
        var values = (string[])original.VaryValues.Clone();
        for (var i = 0; i < names.Length; i++)
        {
            if (names[i] == "accept-encoding") values[i] = negotiated;
        }

        return DerivedFrom(original, [.. headers], body, etag, names, values, original.Tags);
    }

    /// <summary>
    /// <paramref name="made"/> (a representation this node made) made again in the same coding into
    /// <paramref name="body"/>, at another level: the same fields, freshness, stored sequence, tags and
    /// variant selection, and an entity-tag with <paramref name="level"/> added to its suffix (<c>"v1-br"</c>
    /// becomes <c>"v1-br11"</c>): other bytes, so another entity-tag (RFC 9110 §8.8.3), and a client holding
    /// the fast copy's gets the new one in full rather than a 304 for bytes it does not have. Its
    /// <see cref="HeaderRules.Encoded"/> names the new level, so a tier that fetches it does not make it again.
    /// </summary>
    public static CachedResponse Remade(CachedResponse made, CacheBody body, int level)
    {
        var headers = new List<KeyValuePair<string, StringValues>>(made.Headers.Length + 1);
        string? etag = null;
        foreach (var h in made.Headers)
        {
            if (h.Key.Equals(HeaderRules.Encoded, StringComparison.OrdinalIgnoreCase)) continue;
            if (h.Key.Equals(HeaderNames.ETag, StringComparison.OrdinalIgnoreCase))
            {
                etag = WithLevel(h.Value.Count > 0 ? h.Value[0] : null, level);
                if (etag is not null) headers.Add(new(HeaderNames.ETag, etag));
                continue;
            }

            headers.Add(h);
        }

        if (made.ContentCoding is { } coding) headers.Add(new(HeaderRules.Encoded, EncodedValue(coding, level)));
        return DerivedFrom(made, [.. headers], body, etag, made.VaryNames, made.VaryValues, made.Tags);
    }

    /// <summary>The <see cref="HeaderRules.Encoded"/> value of a representation made in <paramref name="coding"/> at <paramref name="level"/>.</summary>
    public static string EncodedValue(string coding, int level) =>
        coding + "; level=" + level.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// True when <paramref name="entry"/> is a representation an EdgeCache tier made (its <see cref="HeaderRules.Encoded"/>
    /// field, as <see cref="EncodedValue"/> writes it) in its own Content-Encoding, <paramref name="coding"/> (br, zstd or
    /// gzip), at <paramref name="level"/>, and its entity-tag, if any, is the one <see cref="Derive"/> gives a first copy
    /// (<c>"…-br"</c>, no level yet): what a re-encode may make again, with the entity-tag the maker would give it. An
    /// origin's own coding has no such field (a shield drops an origin's: <see cref="HeaderRules.Encoded"/>).
    /// </summary>
    public static bool IsMadeFast(CachedResponse entry, out string coding, out int level)
    {
        coding = "";
        level = 0;
        if (entry.StatusCode != StatusCodes.Status200OK || entry.IsPartial || entry.ContentCoding is not ("br" or "zstd" or "gzip") || entry.GetHeader(HeaderRules.Encoded) is not [{ } value]) return false;
        var semi = value.IndexOf(';', StringComparison.Ordinal);
        if (semi <= 0 || !value.AsSpan(0, semi).Trim().Equals(entry.ContentCoding, StringComparison.OrdinalIgnoreCase)) return false;
        var parameter = value.AsSpan(semi + 1).Trim();
        if (!parameter.StartsWith("level=", StringComparison.OrdinalIgnoreCase)
            || !int.TryParse(parameter[6..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out level))
        {
            return false;
        }

        coding = entry.ContentCoding;
        return entry.ETag is null || entry.ETag.EndsWith("-" + coding + "\"", StringComparison.Ordinal);
    }

    /// <summary><c>"abc-br"</c> becomes <c>"abc-br11"</c> (weak ones too); null for anything that is not an entity-tag.</summary>
    private static string? WithLevel(string? etag, int level)
    {
        if (etag is null) return null;
        var t = etag.Trim();
        if (t.Length < 2 || t[^1] != '"' || t.IndexOf('"', StringComparison.Ordinal) == t.Length - 1) return null;
        return t[..^1] + level.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\"";
    }

    /// <summary>A representation derived from <paramref name="original"/>: its own fields, body, entity-tag,
    /// variant selection and tags; the original's status, directives, freshness (times, age, lifetime),
    /// Last-Modified, storing time, staleness mark and stored sequence, so purges and TTL changes reach both.</summary>
    private static CachedResponse DerivedFrom(CachedResponse original, KeyValuePair<string, StringValues>[] headers, CacheBody body, string? etag, string[] varyNames, string[] varyValues, string[] tags) => new()
    {
        StatusCode = original.StatusCode,
        Headers = headers,
        Body = body,
        Directives = original.Directives,
        RequestTime = original.RequestTime,
        ResponseTime = original.ResponseTime,
        CorrectedInitialAge = original.CorrectedInitialAge,
        FreshnessLifetime = original.FreshnessLifetime,
        HeuristicFreshness = original.HeuristicFreshness,
        ETag = etag,
        LastModified = original.LastModified,
        VaryNames = varyNames,
        VaryValues = varyValues,
        Tags = tags,
        StoredAt = original.StoredAt,
        MarkedStale = original.MarkedStale,
        StoredSeq = original.StoredSeq,
    };

    /// <summary>
    /// The surrogate key every image variant carries, naming its original's path and query on the same
    /// host: <see cref="InvalidationRules"/> reads it as a second location, so a purge of the original's URL
    /// (or of a prefix that covers it) purges the variant too, on every node that stored it.
    /// </summary>
    public const string DerivedFromTag = "edgecache-derived:";

    /// <summary>
    /// An image variant of <paramref name="original"/> (RFC 9110 §8.8.3: another representation, so another
    /// entity-tag: the original's with <paramref name="etagSuffix"/>), with <paramref name="body"/> in
    /// <paramref name="contentType"/>. The original's other fields, freshness, validators' dates, stored
    /// sequence and surrogate keys are kept, and the <see cref="DerivedFromTag"/> tag naming
    /// <paramref name="originalPathAndQuery"/> added (also to <c>Surrogate-Key</c>, so an edge that stores
    /// the variant has it). <paramref name="accept"/> is the negotiated Accept of a <c>format=auto</c>
    /// request: the variant then carries <c>Vary: Accept</c> and is selected by it.
    /// </summary>
    public static CachedResponse DeriveImage(CachedResponse original, CacheBody body, string contentType, string etagSuffix, string? accept, string originalPathAndQuery)
    {
        var tag = DerivedFromTag + originalPathAndQuery;
        var headers = new List<KeyValuePair<string, StringValues>>(original.Headers.Length + 3);
        string? etag = null;
        var keys = StringValues.Empty;
        foreach (var h in original.Headers)
        {
            if (h.Key.Equals(HeaderNames.ContentType, StringComparison.OrdinalIgnoreCase)
                || h.Key.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase)
                || h.Key.Equals(HeaderNames.ContentEncoding, StringComparison.OrdinalIgnoreCase)
                || h.Key.Equals(HeaderNames.ContentRange, StringComparison.OrdinalIgnoreCase)
                || h.Key.Equals(HeaderNames.ContentMD5, StringComparison.OrdinalIgnoreCase)
                || h.Key.Equals(HeaderRules.Encoded, StringComparison.OrdinalIgnoreCase)
                || h.Key.Equals(HeaderNames.Vary, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (h.Key.Equals(HeaderRules.SurrogateKey, StringComparison.OrdinalIgnoreCase))
            {
                keys = h.Value;
                continue;
            }

            if (h.Key.Equals(HeaderNames.ETag, StringComparison.OrdinalIgnoreCase))
            {
                etag = SuffixETag(h.Value.Count > 0 ? h.Value[0] : null, etagSuffix);
                if (etag is not null) headers.Add(new(HeaderNames.ETag, etag));
                continue;
            }

            headers.Add(h);
        }

        headers.Add(new(HeaderNames.ContentType, contentType));
        headers.Add(new(HeaderNames.ContentLength, body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        headers.Add(new(HeaderRules.SurrogateKey, StringValues.IsNullOrEmpty(keys) ? tag : string.Join(' ', keys.ToArray()) + " " + tag));
        if (accept is not null) headers.Add(new(HeaderNames.Vary, "Accept"));
        var tags = new string[original.Tags.Length + 1];
        original.Tags.CopyTo(tags, 0);
        tags[^1] = tag;
        return DerivedFrom(
            original,
            [.. headers],
            body,
            etag,
            accept is null ? [] : ["accept"],
            accept is null ? [] : [Vary.SelectValues(["accept"], new HeaderDictionary { [HeaderNames.Accept] = accept })[0]],
            tags);
    }

    /// <summary><c>"abc"</c> becomes <c>"abc-br"</c>, <c>W/"abc"</c> becomes <c>W/"abc-br"</c>; anything
    /// that is not an entity-tag is dropped (null).</summary>
    public static string? SuffixETag(string? etag, string suffix)
    {
        if (etag is null) return null;
        var t = etag.Trim();
        var weak = t.StartsWith("W/", StringComparison.Ordinal);
        var opaque = weak ? t[2..] : t;
        if (opaque.Length < 2 || opaque[0] != '"' || opaque[^1] != '"') return null;
        return (weak ? "W/" : "") + opaque[..^1] + "-" + suffix + "\"";
    }

    private static long? ContentLengthOf(IHeaderDictionary headers) =>
        headers.ContentLength;
}
