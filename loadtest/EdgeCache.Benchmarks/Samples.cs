using EdgeCache.Engine;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.Benchmarks;

/// <summary>The requests and stored responses the benchmarks share: what a browser sends and a web origin answers.</summary>
internal static class Samples
{
    public const string Scheme = "http";
    public const string Host = "www.example.com";
    public const string PathAndQuery = "/obj/1k/item-42?w=640&fmt=webp";

    /// <summary>A typical origin Cache-Control.</summary>
    public const string ResponseCacheControl = "public, max-age=3600, s-maxage=600, stale-while-revalidate=60, stale-if-error=86400";

    public static readonly DateTimeOffset Now = new(2026, 11, 26, 6, 0, 0, TimeSpan.Zero);

    public static readonly HeuristicOptions Heuristics = new(0.1, TimeSpan.FromDays(1));

    /// <summary>Request headers of a typical browser GET (no Cache-Control, as most requests).</summary>
    public static HeaderDictionary BrowserRequest() => new()
    {
        ["Host"] = Host,
        ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
        ["Accept"] = "image/avif,image/webp,*/*;q=0.8",
        ["Accept-Encoding"] = "gzip, deflate, br, zstd",
        ["Accept-Language"] = "en-GB,en;q=0.9",
    };

    /// <summary>A stored 200 of <paramref name="bodyBytes"/> bytes; with <paramref name="vary"/>, varying on it.</summary>
    public static CachedResponse Stored(int bodyBytes, string? vary, IHeaderDictionary request, string? contentEncoding = null)
    {
        var headers = new HeaderDictionary
        {
            ["Content-Type"] = "application/octet-stream",
            ["Content-Length"] = bodyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Date"] = "Thu, 26 Nov 2026 06:00:00 GMT",
            ["Cache-Control"] = ResponseCacheControl,
            ["ETag"] = "\"item-42-v1\"",
            ["Last-Modified"] = "Mon, 02 Nov 2026 10:00:00 GMT",
        };
        if (vary is not null) headers["Vary"] = vary;
        if (contentEncoding is not null) headers["Content-Encoding"] = contentEncoding;
        var body = CacheBody.FromBytes(new byte[bodyBytes]);
        return CachedResponseFactory.Create(200, headers, request, body, Now, Now, Heuristics);
    }
}
