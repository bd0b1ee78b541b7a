using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine;

/// <summary>
/// Content codings (RFC 9110 §8.4.1) and what a client's Accept-Encoding accepts (§12.5.3). A stored
/// copy is only ever served to a client that accepts its coding, and a response is only stored when
/// the request that fetched it accepts its coding, so a variant can never hold bytes its clients
/// cannot decode.
/// </summary>
public static class ContentCoding
{
    /// <summary>Codings whose presence in Accept-Encoding matters; in the order of the normalised form.</summary>
    internal static readonly string[] Known = ["br", "gzip", "zstd", "deflate"];

    /// <summary>The normalised Content-Encoding of a response: lower-cased codings in the order applied,
    /// <c>x-gzip</c> as <c>gzip</c> (§8.4.1.3), <c>identity</c> dropped; null when none is applied.</summary>
    public static string? Of(StringValues contentEncoding)
    {
        if (StringValues.IsNullOrEmpty(contentEncoding)) return null;
        string? result = null;
        foreach (var line in contentEncoding)
        {
            if (line is null) continue;
            foreach (var raw in line.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var coding = Canonical(raw);
                if (coding == "identity") continue;
                result = result is null ? coding : result + "," + coding;
            }
        }

        return result;
    }

    /// <summary>True when a client that sent <paramref name="acceptEncoding"/> can decode a representation
    /// with the normalised <paramref name="coding"/> (<see cref="Of"/>). No coding is always acceptable;
    /// otherwise every coding applied must be one the client accepts with q &gt; 0. A request without
    /// Accept-Encoding accepts no coding: RFC 9110 §12.5.3 allows any, but clients that send none are
    /// the ones that cannot decode (every CDN serves them identity).</summary>
    public static bool Accepts(StringValues acceptEncoding, string? coding) =>
        coding is null || AcceptsNormalized(Vary.NormalizeAcceptEncoding(acceptEncoding), coding);

    /// <summary><see cref="Accepts"/> for an Accept-Encoding already normalised (<see cref="Vary.NormalizeAcceptEncoding(StringValues)"/>).</summary>
    public static bool AcceptsNormalized(string accepted, string? coding)
    {
        if (coding is null) return true;
        foreach (var range in coding.AsSpan().Split(','))
        {
            if (!Contains(accepted, coding.AsSpan()[range])) return false;
        }

        return true;
    }

    /// <summary>True when a normalised Accept-Encoding (<see cref="Vary.NormalizeAcceptEncoding"/>) lists <paramref name="coding"/>.</summary>
    private static bool Contains(string normalized, ReadOnlySpan<char> coding)
    {
        var rest = normalized.AsSpan();
        var semi = rest.IndexOf(';');
        if (semi >= 0) rest = rest[..semi];
        foreach (var range in rest.Split(','))
        {
            if (rest[range].SequenceEqual(coding)) return true;
        }

        return false;
    }

    /// <summary>A coding name as compared: lower case, with the §8.4.1 aliases resolved.</summary>
    internal static string Canonical(string coding)
    {
        var lower = coding.ToLowerInvariant();
        return lower switch
        {
            "x-gzip" => "gzip",
            "x-compress" => "compress",
            _ => lower,
        };
    }
}
