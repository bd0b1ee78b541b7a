using EdgeCache.Engine;
using EdgeCache.Proxy.Internal;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace EdgeCache.Proxy;

/// <summary>
/// The first cache step, before YARP: refuses requests for a host the connection's TLS certificate does
/// not cover and hosts no route serves (both 421), answers fresh hits
/// straight from the memory tier, and hands everything else to <see cref="CacheForwarderMiddleware"/>
/// inside YARP's pipeline with its decision (fetch, revalidate, serve stale while revalidating, pass).
/// </summary>
public sealed class CacheLookupMiddleware(RequestDelegate next, CacheEngine engine)
{
    public Task InvokeAsync(HttpContext ctx)
    {
        var request = ctx.Request;
        if (ctx.Features.Get<TlsConnectionNames>() is { } names && !names.Covers(request.Host.Value))
        {
            // RFC 9110 §15.5.20: the client reuses a connection whose certificate does not cover this host
            // (connection coalescing, or a client that sent another name in SNI). It may retry on a new one.
            Log.MisdirectedConnection(engine.Logger, request.Host.Value ?? "");
            engine.CountRequest(RequestOutcome.Error);
            return ResponseWriter.WriteErrorAsync(ctx, engine, StatusCodes.Status421MisdirectedRequest, "this connection's TLS certificate does not cover the requested host; open a new connection for it.", engine.Options.CacheName);
        }

        var method = request.Method;
        if (HttpMethods.IsConnect(method) || HttpMethods.IsTrace(method))
        {
            ctx.Response.Headers.Allow = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS";
            return ResponseWriter.WriteErrorAsync(ctx, engine, StatusCodes.Status405MethodNotAllowed, $"{method} is not supported by this cache.", Status(fwd: "method"));
        }

        // Kestrel honours Transfer-Encoding and moves a conflicting Content-Length to X-Content-Length.
        if (request.Headers.ContainsKey(HeaderNames.TransferEncoding)
            && (request.Headers.ContainsKey(HeaderNames.ContentLength) || request.Headers.ContainsKey("X-Content-Length")))
        {
            // RFC 9112 §6.3: a request with both is a smuggling attempt as often as not. Refuse it,
            // never forward it, and close the connection (the body's framing cannot be trusted).
            engine.CountRequest(RequestOutcome.Error);
            return ResponseWriter.WriteErrorAsync(ctx, engine, StatusCodes.Status400BadRequest, "a request may not carry both Transfer-Encoding and Content-Length.", engine.Options.CacheName, closeConnection: true);
        }

        if (ctx.GetEndpoint() is null)
        {
            // Never an open proxy: only hosts with a configured route are forwarded.
            Log.Misdirected(engine.Logger);
            engine.CountRequest(RequestOutcome.Error);
            return ResponseWriter.WriteErrorAsync(ctx, engine, StatusCodes.Status421MisdirectedRequest, "this EdgeCache node serves no site for the requested host.", engine.Options.CacheName);
        }

        var host = request.Host.Value ?? "";
        var policy = engine.HostPolicies.For(host);
        var key = CacheKey.Build(request.Scheme, host, PathAndQuery(ctx), policy);
        var isGet = HttpMethods.IsGet(method);
        ImageRequest? image = null;
        string? originalKey = null;
        if (policy.Images.Enabled && (isGet || HttpMethods.IsHead(method)))
        {
            switch (ImageRequest.TryParse(PathAndQuery(ctx), policy.Images, out image, out var imageError))
            {
                case ImageParse.Invalid:
                    engine.CountRequest(RequestOutcome.Error);
                    return ResponseWriter.WriteProblemAsync(ctx, engine, StatusCodes.Status400BadRequest, "Invalid image options", imageError!, Status(fwd: "request"));
                case ImageParse.Image:
                    // One key per variant, however it was spelt; a format=auto request's Accept becomes the one
                    // of three values negotiation picks (never the client's raw header), which keys it by Vary.
                    key = CacheKey.Build(request.Scheme, host, image!.CanonicalPathAndQuery, policy);
                    originalKey = CacheKey.Build(request.Scheme, host, image.OriginalPathAndQuery, policy);
                    if (image.Auto) request.Headers.Accept = ImageRequest.NegotiateAccept(request.Headers.Accept, policy.Images.Avif);
                    break;
            }
        }

        if (!isGet && !HttpMethods.IsHead(method))
        {
            return Forward(ctx, new CacheRequestState
            {
                Mode = RequestMode.Pass,
                Key = key,
                Policy = policy,
                RequestDirectives = default,
                PassReason = "method",

                // RFC 9110 §9.3.3: a POST is never answered from cache, but where the host allows it its
                // response may become the target's stored GET response.
                MayStorePostResponse = policy.StorePostResponses && HttpMethods.IsPost(method) && !request.Headers.ContainsKey(HeaderNames.Upgrade),
            });
        }

        if (policy.Compression.Enabled)
        {
            // Compression: the client's Accept-Encoding becomes the one coding negotiation picks for it, so
            // variants are keyed by coding (never by each browser's header) and upstream gets that coding.
            request.Headers.AcceptEncoding = policy.Compression.Negotiation.Negotiate(request.Headers.AcceptEncoding);
        }

        var directives = CacheDirectives.Parse(request.Headers.CacheControl);
        var clientNoCache = directives.NoCache || (!directives.Present && IsPragmaNoCache(request.Headers.Pragma));
        var honour = policy.ClientNoCache == ClientNoCacheMode.Revalidate;
        var effective = honour ? directives : directives with { NoCache = false, MaxAge = null };
        var forced = honour && clientNoCache;

        if (request.Headers.ContainsKey(HeaderNames.Authorization) || request.Headers.ContainsKey(HeaderNames.Upgrade))
        {
            // Credentials: never answered from, or collapsed with, another user's request; the
            // response is stored only when it explicitly allows it (RFC 9111 §3.5).
            return Forward(ctx, new CacheRequestState
            {
                Mode = request.Headers.ContainsKey(HeaderNames.Upgrade) ? RequestMode.Pass : RequestMode.Fetch,
                Key = key,
                Policy = policy,
                RequestDirectives = effective,
                MayCollapse = false,
                MayStore = !directives.NoStore,
                DropClientNoCache = !honour,
                Image = image,
                OriginalKey = originalKey,
            });
        }

        string? copyId = null;
        var warm = request.Headers.ContainsKey(HeaderRules.Warm) ? Warming.Read(request.Headers, engine.Options, out copyId) : WarmMode.None;
        if (warm != WarmMode.None && isGet && WarmForward(ctx, warm, copyId, key, policy, effective) is { } warming) return warming;
        var lookup = new Lookup(key, policy, directives, effective, forced, honour) { Warm = warm, Image = image, OriginalKey = originalKey };
        var stored = engine.Memory.Get(key, request.Headers, out var urlKnown);
        if (stored is not null && stored.NeedsRuleCheck(engine.Rules))
        {
            // Purges are logical: a copy older than a purge, soft purge or TTL change meets it here.
            stored = engine.CheckRules(key, stored, stored: true);
            if (stored is null) urlKnown = false;
        }

        if (stored is { IsPartial: true })
        {
            // A stored partial (RFC 9111 §3.3) answers only a GET for a range inside it. For anything
            // else it is no hit: the lookup goes on as a miss (the disk may hold the whole), and the
            // fetch completes or replaces it.
            if (TryServePartial(ctx, lookup, stored) is { } served) return served;
            lookup = lookup with { Partial = stored };
            stored = null;
        }

        // Read once: the disk tier can be swapped (reopened, wiped) between two reads. The fast path may
        // have just looked this request up on disk before handing it over: then it is not looked up again.
        if (stored is null
            && engine.Disk is { } disk
            && !FastHits.DiskMissedJustNow(ctx.Features.Get<IConnectionItemsFeature>()?.Items, key))
        {
            return LookupDiskAsync(ctx, disk, lookup, urlKnown);
        }

        return Decide(ctx, lookup, stored, urlKnown, "memory");
    }

    /// <summary>
    /// A warming request that does not start with a lookup here: on an edge, one for the owning shield only
    /// (<c>shield</c>, <c>refresh</c>) is passed to the shield the key hashes to, by the cluster's own
    /// load-balancing policy (the one every client miss uses), and stores nothing; on a shield, a refresh
    /// fetches past its stored copy. Null when the request is looked up as usual (it then fills this node).
    /// </summary>
    private Task? WarmForward(HttpContext ctx, WarmMode warm, string? copyId, string key, HostCachePolicy policy, CacheDirectives effective)
    {
        if (engine.Options.Role == NodeRole.Edge && warm is WarmMode.Shield or WarmMode.Refresh)
        {
            return Forward(ctx, new CacheRequestState { Mode = RequestMode.Pass, Key = key, Policy = policy, RequestDirectives = default, PassReason = "bypass", Warm = warm });
        }

        if (engine.Options.Role == NodeRole.Shield && warm == WarmMode.Refresh)
        {
            return Forward(ctx, new CacheRequestState
            {
                Mode = RequestMode.Fetch,
                Key = key,
                Policy = policy,
                RequestDirectives = effective,
                MustRevalidate = true,
                MayCollapse = false,
                Warm = warm,
                CopyId = copyId,
            });
        }

        return null;
    }

    /// <summary>A memory miss: look on disk; a small object found there is promoted to memory.</summary>
    private async Task LookupDiskAsync(HttpContext ctx, IDiskTier disk, Lookup lookup, bool urlKnown)
    {
        var found = await disk.GetAsync(lookup.Key, ctx.Request.Headers, WholeDiskReadBytes(engine), ctx.RequestAborted, RangeStart(ctx, engine.Time.GetUtcNow()), rentAboveBytes: engine.DiskRentAbove(lookup.Key)).ConfigureAwait(false);
        if (found is not null && found.NeedsRuleCheck(engine.Rules) && engine.CheckRules(lookup.Key, found, stored: true) is var current && !ReferenceEquals(current, found))
        {
            if (current is null && !found.Body.IsCompleted) found.Body.Fail(new OperationCanceledException("The object was purged."));
            if (current is null) found.Body.ReturnRented();
            found = current;
        }

        if (found is null)
        {
            await Decide(ctx, lookup, null, urlKnown, "disk").ConfigureAwait(false);
            return;
        }

        engine.DiskHit(lookup.Key);

        // Streamed, or read whole into a pooled array (not promoted): used once, for a hit.
        var oneShot = !found.Body.IsCompleted || found.Body.IsRented;
        if (!oneShot) engine.Memory.Set(lookup.Key, found);
        try
        {
            await Decide(ctx, lookup, found, urlKnown: true, "disk", streamedFromDisk: oneShot).ConfigureAwait(false);
        }
        finally
        {
            // A large object streams from disk only for a hit; whatever was not read stops here.
            if (!found.Body.IsCompleted) found.Body.Fail(new OperationCanceledException("The disk read was not needed."));

            // The response is written (Kestrel's pipe copied it): the pooled array is free.
            found.Body.ReturnRented();
        }
    }

    /// <summary>Objects up to this size are read from disk whole, in one trip to the store, even when the
    /// memory tier will not take them: streaming one holds up to four 256 KiB chunks in memory anyway,
    /// and costs a trip to the store per chunk.</summary>
    internal const long WholeDiskReadLimit = 1024 * 1024;

    internal static long WholeDiskReadBytes(CacheEngine engine) => Math.Max(engine.Memory.MaxObjectBytes, WholeDiskReadLimit);

    /// <summary>Where a hit on a streamed disk object will start reading: the first byte of a
    /// single range the response writer will honour, else 0 (the same rules as ResponseWriter).</summary>
    private static Func<CachedResponse, long>? RangeStart(HttpContext ctx, DateTimeOffset now)
    {
        var request = ctx.Request;
        if (!request.Headers.ContainsKey(HeaderNames.Range) || !HttpMethods.IsGet(request.Method)) return null;
        return stored =>
        {
            if (stored.StatusCode != StatusCodes.Status200OK || !Conditionals.IfRangeAllows(request.Headers, stored, now) || Conditionals.IsNotModified(request.Headers, stored, now)) return 0;
            var length = stored.GetHeader(HeaderNames.ContentLength);
            if (length.Count != 1 || !long.TryParse(length[0], System.Globalization.NumberStyles.None, null, out var total)) return 0;
            return ByteRange.Evaluate(request.Headers.Range, total, out var start, out _) == RangeOutcome.Partial ? start : 0;
        };
    }

    /// <summary>Answers from a stored partial when it covers the request's range and is fresh enough for
    /// it (<see cref="PartialContent.Answers"/>, <see cref="HitDecision.Evaluate"/>); null otherwise. A
    /// partial is never revalidated or served stale in the background: whatever it cannot answer is fetched.</summary>
    private Task? TryServePartial(HttpContext ctx, Lookup lookup, CachedResponse partial)
    {
        var request = ctx.Request;
        var now = engine.Time.GetUtcNow();
        if (!PartialContent.Answers(partial, request.Method, request.Headers, now, out _, out _)) return null;
        var hit = HitDecision.Evaluate(partial, lookup.Effective, lookup.Forced, engine.IsCurrent, HitDecision.ClientAccepts(partial, request.Headers.AcceptEncoding), now);
        if (!hit.Serves) return null;
        engine.CountRequest(hit.Kind == HitKind.Fresh ? RequestOutcome.Hit : RequestOutcome.Stale, "memory");
        return ResponseWriter.WriteEntryAsync(ctx, engine, partial, lookup.Policy, HitStatus(hit.Ttl, "memory"), StringValues.Empty);
    }

    private Task Decide(HttpContext ctx, Lookup lookup, CachedResponse? stored, bool urlKnown, string detail, bool streamedFromDisk = false)
    {
        var effective = lookup.Effective;
        var mode = RequestMode.Fetch;
        var unsure = false;
        if (stored is not null)
        {
            var current = engine.IsCurrent;
            var hit = HitDecision.Evaluate(stored, effective, lookup.Forced, current, HitDecision.ClientAccepts(stored, ctx.Request.Headers.AcceptEncoding), engine.Time.GetUtcNow());
            switch (hit.Kind)
            {
                case HitKind.Fresh or HitKind.Stale:
                    engine.CountRequest(hit.Kind == HitKind.Fresh ? RequestOutcome.Hit : RequestOutcome.Stale, detail);
                    stored.CountHit();

                    // The first hit on a copy a warming request stored says so (a warming request's own does not count).
                    if (lookup.Warm == WarmMode.None && stored.TryClaimWarmed()) detail = Warmed;
                    if (Replication.Read(ctx.Request.Headers, engine.Options) == PeerRequest.Fill) engine.Replication.CountServedFill(held: true);
                    return ResponseWriter.WriteEntryAsync(ctx, engine, stored, lookup.Policy, HitStatus(hit.Ttl, detail), StringValues.Empty);
                case HitKind.StaleWhileRevalidate when !streamedFromDisk:
                    mode = RequestMode.StaleWhileRevalidate;
                    break;
                case HitKind.Unusable:
                    // Another variant, in effect: this client cannot decode the stored copy.
                    stored = null;
                    break;
            }

            // Not current: the stored copy is revalidated, and the upstream tier must revalidate too.
            unsure = stored is not null && !current;
            if (unsure) lookup = lookup with { Forced = true };
        }

        // A large object streaming from disk is only used for a hit: otherwise it is fetched anew.
        if (streamedFromDisk) stored = null;

        if (lookup.Directives.OnlyIfCached && mode != RequestMode.StaleWhileRevalidate)
        {
            // §5.2.1.7: no stored response that satisfies the request, and no forwarding allowed. A peer shield's
            // fill asks this way on each of its misses: counted as a fill this node did not hold, not as an error.
            if (Replication.Read(ctx.Request.Headers, engine.Options) == PeerRequest.Fill) engine.Replication.CountServedFill(held: false);
            else engine.CountRequest(RequestOutcome.Error);
            return ResponseWriter.WriteErrorAsync(ctx, engine, StatusCodes.Status504GatewayTimeout, "only-if-cached was requested and no suitable stored response is held.", Status(fwd: urlKnown ? "vary-miss" : "uri-miss"));
        }

        return Forward(ctx, new CacheRequestState
        {
            Mode = mode,
            Key = lookup.Key,
            Policy = lookup.Policy,
            RequestDirectives = effective,
            Stored = stored,
            Partial = lookup.Partial,
            UrlKnown = urlKnown,
            ClientForcedRevalidation = lookup.Forced && stored is not null,
            MustRevalidate = lookup.Forced,
            DropClientNoCache = !lookup.Honour,
            MayStore = !lookup.Directives.NoStore,
            UpstreamNoCache = unsure,
            Warm = lookup.Warm,
            Image = lookup.Image,
            OriginalKey = lookup.OriginalKey,
        });
    }

    /// <summary>The Cache-Status detail of the first hit on a warmed copy.</summary>
    internal const string Warmed = "warmed";

    /// <summary>What the request asked of the cache, worked out once.</summary>
    private readonly record struct Lookup(string Key, HostCachePolicy Policy, CacheDirectives Directives, CacheDirectives Effective, bool Forced, bool Honour)
    {
        /// <summary>A stored partial of this variant that does not answer the request (see <see cref="CacheRequestState.Partial"/>).</summary>
        public CachedResponse? Partial { get; init; }

        /// <summary>A trusted warming request that fills this node (<see cref="CacheRequestState.Warm"/>).</summary>
        public WarmMode Warm { get; init; }

        /// <summary>An image variant request (<see cref="CacheRequestState.Image"/>).</summary>
        public ImageRequest? Image { get; init; }

        public string? OriginalKey { get; init; }
    }

    private Task Forward(HttpContext ctx, CacheRequestState state)
    {
        ctx.Features.Set(state);
        ctx.Features.Set(new CacheKeyFeature(RendezvousHash.HashKey(state.OriginalKey ?? state.Key)));
        return next(ctx);
    }

    private string HitStatus(long ttl, string detail) => CacheStatus.ForHit(engine.Options.CacheName, ttl, detail).Format();

    private string Status(string fwd) => CacheStatus.Forwarded(engine.Options.CacheName, fwd).Format();

    private static bool IsPragmaNoCache(StringValues pragma)
    {
        foreach (var v in pragma)
        {
            if (v is not null && v.Contains("no-cache", StringComparison.OrdinalIgnoreCase)) return true;
        }

        return false;
    }

    /// <summary>The request target's path and query exactly as received (origin-form).</summary>
    private static string PathAndQuery(HttpContext ctx)
    {
        var raw = ctx.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (raw is { Length: > 0 } && raw[0] == '/') return raw;
        return ctx.Request.PathBase.ToUriComponent() + ctx.Request.Path.ToUriComponent() + ctx.Request.QueryString.ToUriComponent();
    }
}
