using EdgeCache.Engine;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Forwarder;

namespace EdgeCache.Proxy.Internal;

/// <summary>Transforms a cache fetch: request rewritten for the upstream, response head captured.</summary>
internal sealed class FetchTransformer(CacheEngine engine, UpstreamRequest request, UpstreamResponse response, CachedResponse? validate, bool dropClientNoCache, bool background, bool noCache, bool toShields, CachedResponse? complete = null, bool peerFill = false) : HttpTransformer
{
    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken).ConfigureAwait(false);
        RequestRewriter.Apply(proxyRequest, request, engine, request.Headers["Connection"], toShields);
        RequestRewriter.SetConnectTimeout(httpContext, proxyRequest);
        // A request with the client's body (a POST) goes as the client sent it, as a pass-through would.
        if (request.Body is null) response.SentValidators = RequestRewriter.ApplyFetch(proxyRequest, validate, dropClientNoCache, background, noCache, complete);
        if (peerFill)
        {
            // A fill from another shield's cache: its stored copy or a 504, never its origin nor a third shield.
            proxyRequest.Headers.Remove("Cache-Control");
            proxyRequest.Headers.Remove("Pragma");
            proxyRequest.Headers.TryAddWithoutValidation("Cache-Control", "only-if-cached");
            proxyRequest.Headers.TryAddWithoutValidation(HeaderRules.Peer, "fill");
        }

        response.RequestTime = engine.Time.GetUtcNow();
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken).ConfigureAwait(false);
        if (proxyResponse is null) return false;
        RemoveConnectionOptions(proxyResponse, httpContext.Response.Headers);
        response.ResponseTime = engine.Time.GetUtcNow();
        response.StatusCode = (int)proxyResponse.StatusCode;
        response.ContentLength = proxyResponse.Content.Headers.ContentLength;
        response.Body = new CacheBody(response.ContentLength);
        response.Head.TrySetResult();
        return true;
    }

    /// <summary>Fields named in the upstream's Connection are hop-by-hop (RFC 9110 §7.6.1); YARP
    /// drops Connection itself, so the names it lists are removed here.</summary>
    internal static void RemoveConnectionOptions(HttpResponseMessage proxyResponse, IHeaderDictionary headers)
    {
        foreach (var name in proxyResponse.Headers.Connection)
        {
            if (!name.Equals("close", StringComparison.OrdinalIgnoreCase) && !name.Equals("keep-alive", StringComparison.OrdinalIgnoreCase))
            {
                headers.Remove(name);
            }
        }
    }
}

/// <summary>Transforms a pass-through request (unsafe methods, bypassed requests): forwarded and
/// answered as the upstream answers, with this tier's Via and Cache-Status added.</summary>
internal sealed class PassTransformer(CacheEngine engine, UpstreamRequest request, HostCachePolicy policy, string fwd, bool toShields) : HttpTransformer
{
    public int? UpstreamStatus { get; private set; }

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken).ConfigureAwait(false);
        RequestRewriter.Apply(proxyRequest, request, engine, httpContext.Request.Headers.Connection, toShields);
        RequestRewriter.SetConnectTimeout(httpContext, proxyRequest);
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        var copy = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken).ConfigureAwait(false);
        if (proxyResponse is null) return copy;
        UpstreamStatus = (int)proxyResponse.StatusCode;
        var headers = httpContext.Response.Headers;
        FetchTransformer.RemoveConnectionOptions(proxyResponse, headers);
        foreach (var name in CacheEngine.HideableFields)
        {
            if (engine.HidesFromClients(name, policy)) headers.Remove(name);
        }

        headers.Remove(HeaderRules.StoredSeq);
        if (!engine.TrustsUpstreamEncoded(policy)) headers.Remove(HeaderRules.Encoded);
        headers.Via = RequestRewriter.AppendVia(headers.Via, engine.ViaToken);
        var status = (CacheStatus.Forwarded(engine.Options.CacheName, fwd) with { FwdStatus = UpstreamStatus }).Format();
        headers[HeaderRules.CacheStatus] = StringValues.Concat(headers[HeaderRules.CacheStatus], status);
        return copy;
    }
}
