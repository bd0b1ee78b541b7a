namespace EdgeCache.Engine;

/// <summary>
/// Per-host compression settings (<c>Compression</c> in a host's policy): which content codings this
/// host's responses are offered in, in which order of preference, what is compressed and at which
/// level. Off by default (<see cref="Enabled"/>). Both tiers read it: every tier negotiates a client's
/// Accept-Encoding into one coding (<see cref="AcceptEncodingNegotiation"/>), which keys the variant and
/// is what the tier sends upstream; only a tier that <see cref="Produce"/>s makes encodings.
/// </summary>
public sealed class CompressionPolicy
{
    /// <summary>The codings EdgeCache can make and read, and the default preference order.</summary>
    public static readonly string[] SupportedCodings = ["br", "zstd", "gzip"];

    /// <summary>Content types compressed when <see cref="ContentTypes"/> is not set: text, and the
    /// textual or uncompressed binary formats a web origin sends. A trailing <c>*</c> matches a prefix.</summary>
    public static readonly string[] DefaultContentTypes =
    [
        "text/*", "application/javascript", "application/x-javascript", "application/ecmascript", "application/json",
        "application/ld+json", "application/manifest+json", "application/xml", "application/xhtml+xml", "application/rss+xml",
        "application/atom+xml", "application/wasm", "application/vnd.ms-fontobject", "image/svg+xml", "image/x-icon",
        "image/vnd.microsoft.icon", "image/bmp", "font/ttf", "font/otf", "font/eot", "application/x-font-ttf", "application/x-font-otf",
    ];

    /// <summary>Negotiate and compress this host's responses. Default false.</summary>
    public bool Enabled { get; set; }

    /// <summary>The codings offered, most preferred first (a client's q-values rank first; this order breaks
    /// ties). Any of <c>br</c>, <c>zstd</c>, <c>gzip</c>. Default <c>br, zstd, gzip</c>.</summary>
    public string[]? Codings { get; set; }

    /// <summary>Content types compressed (parameters ignored; <c>text/*</c> matches a prefix). Default <see cref="DefaultContentTypes"/>.</summary>
    public string[]? ContentTypes { get; set; }

    /// <summary>Smallest body compressed, when its length is known. Default 256 bytes.</summary>
    public long MinBytes { get; set; } = 256;

    /// <summary>Largest body compressed, when its length is known. Default 64 MiB.</summary>
    public long MaxBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Brotli quality (0-11). Default 5 (see the README's measurement).</summary>
    public int BrotliLevel { get; set; } = 5;

    /// <summary>gzip level (1-9). Default 6.</summary>
    public int GzipLevel { get; set; } = 6;

    /// <summary>zstd level (1-22). Default 6.</summary>
    public int ZstdLevel { get; set; } = 6;

    /// <summary>Hits of a representation made at the fast level (<see cref="BrotliLevel"/>, <see cref="ZstdLevel"/>,
    /// <see cref="GzipLevel"/>) after which it is made again, in the background, at the high level
    /// (<see cref="RecompressBrotliLevel"/> and so on) and replaces the fast one. Default 4; 0 turns it off.</summary>
    public int RecompressAfterHits { get; set; } = 4;

    /// <summary>Brotli quality a hot representation is made again at (0-11). Default 11.</summary>
    public int RecompressBrotliLevel { get; set; } = 11;

    /// <summary>zstd level a hot representation is made again at (1-22). Default 19.</summary>
    public int RecompressZstdLevel { get; set; } = 19;

    /// <summary>gzip level a hot representation is made again at (1-9). Default 9.</summary>
    public int RecompressGzipLevel { get; set; } = 9;

    /// <summary>
    /// Whether this tier makes encodings: true, false, or null (the default) for "on shields, not on
    /// edges": the shield compresses once for all edges, and edges fetch and store the encoded bytes.
    /// </summary>
    public bool? Produce { get; set; }

    private string[]? _codings;
    private AcceptEncodingNegotiation? _negotiation;

    /// <summary>The codings offered, most preferred first.</summary>
    public string[] EffectiveCodings => _codings ??= Normalize(Codings ?? SupportedCodings);

    /// <summary>The negotiation for this host (its forms of Accept-Encoding are remembered, bounded).</summary>
    public AcceptEncodingNegotiation Negotiation => _negotiation ??= new AcceptEncodingNegotiation(EffectiveCodings);

    /// <summary>The level for <paramref name="coding"/>.</summary>
    public int LevelFor(string coding) => coding switch
    {
        "br" => BrotliLevel,
        "gzip" => GzipLevel,
        "zstd" => ZstdLevel,
        _ => throw new ArgumentOutOfRangeException(nameof(coding), coding, "not a coding EdgeCache makes"),
    };

    /// <summary>The level a hot representation in <paramref name="coding"/> is made again at.</summary>
    public int RecompressLevelFor(string coding) => coding switch
    {
        "br" => RecompressBrotliLevel,
        "gzip" => RecompressGzipLevel,
        "zstd" => RecompressZstdLevel,
        _ => throw new ArgumentOutOfRangeException(nameof(coding), coding, "not a coding EdgeCache makes"),
    };

    /// <summary>True when a representation made in <paramref name="coding"/> at <paramref name="level"/> is made
    /// again once hot: re-encoding is on and this coding's high level is above the one it was made at.</summary>
    public bool Recompresses(string coding, int level) => RecompressAfterHits > 0 && RecompressLevelFor(coding) > level;

    /// <summary>True when <paramref name="contentType"/> (a Content-Type value) is one this host compresses.</summary>
    public bool Compresses(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType)) return false;
        var media = contentType.AsSpan();
        if (media.IndexOf(';') is >= 0 and var semi) media = media[..semi];
        media = media.Trim();
        foreach (var t in ContentTypes ?? DefaultContentTypes)
        {
            if (t.EndsWith('*')
                ? media.StartsWith(t.AsSpan(0, t.Length - 1), StringComparison.OrdinalIgnoreCase)
                : media.Equals(t, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static string[] Normalize(string[] codings)
    {
        var list = new List<string>(codings.Length);
        foreach (var c in codings)
        {
            var name = ContentCoding.Canonical(c.Trim());
            if (!list.Contains(name)) list.Add(name);
        }

        return [.. list];
    }

    /// <summary>Returns the first problem with these settings, or null.</summary>
    public string? Validate()
    {
        if (Codings is { Length: 0 }) return "Compression:Codings must name at least one of br, zstd, gzip";
        foreach (var c in Codings ?? [])
        {
            if (string.IsNullOrWhiteSpace(c) || Array.IndexOf(SupportedCodings, ContentCoding.Canonical(c.Trim())) < 0)
            {
                return $"Compression:Codings entry '{c}' is not one of br, zstd, gzip";
            }
        }

        foreach (var t in ContentTypes ?? [])
        {
            if (string.IsNullOrWhiteSpace(t) || t.IndexOf('*') is >= 0 and var i && i != t.Length - 1 || !t.Contains('/', StringComparison.Ordinal))
            {
                return $"Compression:ContentTypes entry '{t}' is not a media type such as text/html or text/*";
            }
        }

        if (MinBytes < 0) return "Compression:MinBytes must not be negative";
        if (MaxBytes < MinBytes) return "Compression:MaxBytes must be at least MinBytes";
        if (BrotliLevel is < 0 or > 11) return $"Compression:BrotliLevel must be 0-11 (got {BrotliLevel})";
        if (GzipLevel is < 1 or > 9) return $"Compression:GzipLevel must be 1-9 (got {GzipLevel})";
        if (ZstdLevel is < 1 or > 22) return $"Compression:ZstdLevel must be 1-22 (got {ZstdLevel})";
        if (RecompressAfterHits < 0) return $"Compression:RecompressAfterHits must be 0 (off) or a number of hits (got {RecompressAfterHits})";
        if (RecompressBrotliLevel is < 0 or > 11) return $"Compression:RecompressBrotliLevel must be 0-11 (got {RecompressBrotliLevel})";
        if (RecompressGzipLevel is < 1 or > 9) return $"Compression:RecompressGzipLevel must be 1-9 (got {RecompressGzipLevel})";
        if (RecompressZstdLevel is < 1 or > 22) return $"Compression:RecompressZstdLevel must be 1-22 (got {RecompressZstdLevel})";
        return null;
    }
}
