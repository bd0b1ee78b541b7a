using System.Net;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// A snapshot of what a client asked for, taken before the client's request ends, so a fetch can
/// outlive it (collapsed waiters, background revalidation).
/// </summary>
internal sealed class UpstreamRequest
{
    public required string Method { get; init; }
    public required string Scheme { get; init; }
    public required HostString Host { get; init; }
    public required PathString PathBase { get; init; }
    public required PathString Path { get; init; }
    public required QueryString Query { get; init; }
    public required string Protocol { get; init; }
    public required HeaderDictionary Headers { get; init; }
    public IPAddress? RemoteIp { get; init; }

    /// <summary>The primary cache key.</summary>
    public required string Key { get; init; }

    /// <summary>The client's request body, forwarded as it comes (a POST whose response may be stored,
    /// see <see cref="WithBody"/>); null for cache fetches, which are GETs without a body.</summary>
    public Stream? Body { get; init; }

    /// <summary>What Kestrel said of the client's request (a Content-Length above 0, chunked, an HTTP/2 stream
    /// not ended with its head): a <see cref="Body"/> is sent upstream only then, as YARP does for a pass-through.</summary>
    public bool CanHaveBody { get; init; }

    /// <summary>The client's request (a POST), its body and the fields that frame it included: sent upstream as
    /// the client sent it, with nothing a cache fetch changes (validators, Range, no-cache), only once (no retry).</summary>
    public static UpstreamRequest WithBody(HttpContext ctx, string key) => From(ctx, ctx.Request.Method, key, ctx.Request.Body);

    public static UpstreamRequest From(HttpContext ctx, string method, string key) => From(ctx, method, key, body: null);

    /// <summary>This request with other fields (a body-less fetch only).</summary>
    public UpstreamRequest WithHeaders(HeaderDictionary headers) => new()
    {
        Method = Method,
        Scheme = Scheme,
        Host = Host,
        PathBase = PathBase,
        Path = Path,
        Query = Query,
        Protocol = Protocol,
        Headers = headers,
        RemoteIp = RemoteIp,
        Key = Key,
    };

    private static UpstreamRequest From(HttpContext ctx, string method, string key, Stream? body)
    {
        var src = ctx.Request.Headers;
        var headers = new HeaderDictionary(src.Count);
        foreach (var h in src)
        {
            headers[h.Key] = h.Value;
        }

        // A cache fetch is a GET without a body, whatever the client's request carried.
        if (body is null)
        {
            headers.Remove("Content-Length");
            headers.Remove("Transfer-Encoding");
            headers.Remove("Content-Type");
        }

        return new UpstreamRequest
        {
            Method = method,
            Scheme = ctx.Request.Scheme,
            Host = ctx.Request.Host,
            PathBase = ctx.Request.PathBase,
            Path = ctx.Request.Path,
            Query = ctx.Request.QueryString,
            Protocol = ctx.Request.Protocol,
            Headers = headers,
            RemoteIp = ctx.Connection.RemoteIpAddress,
            Key = key,
            Body = body,
            CanHaveBody = body is not null && ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>()?.CanHaveBody != false,
        };
    }
}
