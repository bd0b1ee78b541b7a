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

    public static UpstreamRequest From(HttpContext ctx, string method, string key)
    {
        var src = ctx.Request.Headers;
        var headers = new HeaderDictionary(src.Count);
        foreach (var h in src)
        {
            headers[h.Key] = h.Value;
        }

        // A cache fetch is a GET without a body, whatever the client's request carried.
        headers.Remove("Content-Length");
        headers.Remove("Transfer-Encoding");
        headers.Remove("Content-Type");
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
        };
    }
}
