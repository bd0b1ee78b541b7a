using EdgeCache.Engine;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Proxy.Internal;

/// <summary>What a forwarded request carries beyond the client's end-to-end fields (RFC 9110 §7.6).</summary>
internal static class RequestRewriter
{
    private static readonly string[] ClientValidators = ["If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"];

    /// <summary>
    /// Removes hop-by-hop fields and those named in Connection, forwards the client's original Host,
    /// replaces every forwarding field with this node's own (<see cref="Forwarding"/>) and appends
    /// this node to Via.
    /// </summary>
    public static void Apply(HttpRequestMessage proxyRequest, UpstreamRequest request, CacheEngine engine, StringValues clientConnection, bool toShields)
    {
        var h = proxyRequest.Headers;
        var named = HeaderRules.ConnectionOptions(clientConnection);
        if (named is not null)
        {
            foreach (var name in named)
            {
                h.Remove(name);
                proxyRequest.Content?.Headers.Remove(name);
            }
        }

        foreach (var name in (string[])["Connection", "Keep-Alive", "Proxy-Connection", "TE", "Upgrade", "Trailer", "Proxy-Authorization"])
        {
            h.Remove(name);
        }

        // Internal fields travel only from shields to edges; no client can forge them.
        h.Remove(HeaderRules.StoredSeq);
        h.Remove(HeaderRules.Peer);

        h.Host = request.Host.Value;
        Forwarding.Apply(h, request, engine.Options, engine.HostPolicies, toShields);

        var via = request.Protocol switch
        {
            "HTTP/2" => "2 " + engine.Options.NodeId,
            "HTTP/3" => "3 " + engine.Options.NodeId,
            "HTTP/1.0" => "1.0 " + engine.Options.NodeId,
            _ => engine.ViaToken,
        };
        h.Remove("Via");
        var incomingVia = request.Headers["Via"];
        h.TryAddWithoutValidation("Via", StringValues.IsNullOrEmpty(incomingVia) ? via : string.Join(", ", incomingVia.ToArray()) + ", " + via);
    }

    /// <summary>
    /// For cache fetches: the client's own validators and Range are not forwarded (the cache asks for
    /// the full representation and answers them itself); the stored response's validators are sent
    /// when it is being revalidated (RFC 9111 §4.3.1). A fetch that completes a stored partial
    /// (<paramref name="complete"/>) asks for the rest of it, if it is still the same representation
    /// (RFC 9111 §3.3: Range and If-Range with the partial's strong validator, RFC 9110 §13.1.5).
    /// </summary>
    public static bool ApplyFetch(HttpRequestMessage proxyRequest, CachedResponse? validate, bool dropClientNoCache, bool background, bool noCache = false, CachedResponse? complete = null)
    {
        var h = proxyRequest.Headers;
        foreach (var name in ClientValidators) h.Remove(name);
        if (validate is null && complete is { Partial: { } span } && PartialContent.CompletionRange(span) is { } range
            && PartialContent.StrongValidator(complete) is { } validator)
        {
            h.TryAddWithoutValidation("Range", range);
            h.TryAddWithoutValidation("If-Range", validator);
        }

        if (dropClientNoCache || background || noCache)
        {
            h.Remove("Cache-Control");
            h.Remove("Pragma");
        }

        if (noCache)
        {
            // Read-your-purge: the upstream tier's copy predates a purge this node applied, or this
            // node is not sure it has every purge; the upstream must validate with its own upstream.
            h.TryAddWithoutValidation("Cache-Control", "no-cache");
        }

        if (background)
        {
            // A background refresh exists to get a fresh copy: a stale one from the next tier
            // (its own stale-while-revalidate) would be useless, so ask it to revalidate too.
            h.TryAddWithoutValidation("Cache-Control", "max-age=0");
        }

        if (validate is null) return false;
        var sent = false;
        if (validate.ETag is { } etag)
        {
            sent = h.TryAddWithoutValidation("If-None-Match", etag);
        }

        // Only a Last-Modified the engine could read is a validator (CachedResponse.LastModified);
        // it is sent as the origin wrote it (RFC 9111 §4.3.1).
        var lm = validate.GetHeader("Last-Modified");
        if (validate.LastModified is not null && lm.Count > 0)
        {
            sent |= h.TryAddWithoutValidation("If-Modified-Since", lm[0]);
        }

        return sent;
    }

    /// <summary>Hands the host's connect timeout to the connection factory (see <see cref="TimeoutHttpClientFactory"/>).</summary>
    public static void SetConnectTimeout(Microsoft.AspNetCore.Http.HttpContext httpContext, HttpRequestMessage proxyRequest)
    {
        if (httpContext.Items[UpstreamClient.ConnectTimeoutItem] is TimeSpan t)
        {
            proxyRequest.Options.Set(UpstreamClient.ConnectTimeoutKey, t);
        }
    }

    /// <summary>Appends this node to a response's Via (RFC 9110 §7.6.3).</summary>
    public static StringValues AppendVia(StringValues existing, string token) =>
        StringValues.IsNullOrEmpty(existing) ? new StringValues(token) : StringValues.Concat(existing, token);

}
