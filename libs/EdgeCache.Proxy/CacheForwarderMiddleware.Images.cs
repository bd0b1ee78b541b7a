using EdgeCache.Engine;
using EdgeCache.Proxy.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace EdgeCache.Proxy;

/// <summary>Image variants on a tier that makes them (<see cref="CacheEngine.MakesImages"/>, shields by default):
/// the variant key's flight (collapsed like any miss) takes the original from the memory tier, or fetches it
/// as the original's own miss (stored under its own key, collapsed with every other request for it), and
/// makes the variant from it once; a variant that cannot be made is answered with the original.</summary>
internal sealed partial class CacheForwarderMiddleware
{
    private async Task<FetchResult> FetchImageAsync(UpstreamRequest request, UpstreamTarget target, CacheRequestState state, ImageRequest image, bool noCache)
    {
        var originalKey = state.OriginalKey!;
        var originalRequest = OriginalRequest(request, image, originalKey);

        // The original is fetched (and, on shields that replicate, pushed and peer-filled) as the object it is: by
        // its own key's hash, not the variant's, so its second home is the shield the edges fail over to for it.
        var originalTarget = target with { KeyHash = RendezvousHash.HashKey(originalKey) };
        var stored = _engine.Memory.Get(originalKey, originalRequest.Headers, out _);
        if (stored is not null && stored.NeedsRuleCheck(_engine.Rules)) stored = _engine.CheckRules(originalKey, stored, stored: true);
        stored ??= await OriginalFromDiskAsync(originalKey, originalRequest.Headers, state.Policy.Images).ConfigureAwait(false);
        if (stored is { IsPartial: true }) stored = null;
        CachedResponse original;
        var fromMemory = false;
        var revalidated = false;
        if (stored is not null && !noCache && !state.MustRevalidate && stored.Body.IsCompleted
            && HitDecision.Evaluate(stored, default, forced: false, _engine.IsCurrent, acceptsCoding: true, _engine.Time.GetUtcNow()).Kind == HitKind.Fresh)
        {
            original = stored;
            fromMemory = true;
        }
        else
        {
            var originalState = new CacheRequestState
            {
                Mode = RequestMode.Fetch,
                Key = originalKey,
                Policy = state.Policy,
                RequestDirectives = default,
                Stored = stored,
                MustRevalidate = state.MustRevalidate,
                UpstreamNoCache = noCache,
            };
            FetchResult fetched;
            var flight = _engine.Flights.JoinOrStart(originalKey, out var leader);
            if (leader)
            {
                fetched = await LeadAsync(flight, originalRequest, originalTarget, originalState).ConfigureAwait(false);
            }
            else
            {
                fetched = await flight.Outcome.Task.ConfigureAwait(false);
                if (fetched.Kind is FetchKind.NotShareable || fetched.Personal || fetched.Entry is { IsPartial: true } || (fetched.Entry is { } e && !HitDecision.Selects(e, originalRequest.Headers)))
                {
                    fetched = await FetchOnceAsync(originalRequest, originalTarget, originalState, noCache: noCache).ConfigureAwait(false);
                }
            }

            // No stored original (the origin failed, or sent something that may not be stored): the client
            // gets what the origin sent, as for any miss.
            if (fetched.Kind is FetchKind.Failed or FetchKind.NotShareable || fetched.Entry is null) return fetched;
            original = fetched.Entry;
            revalidated = fetched.Kind == FetchKind.Revalidated;
            if (!await original.Body.WaitForCompletionAsync(CancellationToken.None).ConfigureAwait(false))
            {
                return new FetchResult { Kind = FetchKind.Failed, Response = new UpstreamResponse { Error = Yarp.ReverseProxy.Forwarder.ForwarderError.ResponseBodyDestination } };
            }
        }

        if (original.StatusCode != StatusCodes.Status200OK) return Fallback(original, _engine.Images.Refuse("status").Refusal!);
        var accept = image.Auto ? request.Headers[HeaderNames.Accept].ToString() : null;
        if (state.Stored is { } stale && _engine.Images.Freshen(stale, original, image, accept) is { } freshened)
        {
            // A stale variant whose original is unchanged (a 304 for it, or a stored or fetched copy with the
            // same validators): freshened as it is, never transformed again.
            var inStore = state.MayStore ? StoreWhenCompleteAsync(state.Key, freshened, upstreamHolds: false) : Task.FromResult(Task.CompletedTask);
            return new FetchResult
            {
                Kind = revalidated ? FetchKind.Revalidated : FetchKind.Storable,
                Entry = freshened,
                Response = new UpstreamResponse { StatusCode = revalidated ? StatusCodes.Status304NotModified : StatusCodes.Status200OK },
                InMemory = inStore,
                Stored = inStore.Unwrap(),
                Derived = fromMemory,
            };
        }

        var outcome = await _engine.Images.MakeAsync(originalKey, original, image, accept, state.Policy.Images).ConfigureAwait(false);
        if (outcome.Variant is not { } variant) return Fallback(original, outcome.Refusal!);
        var inMemory = state.MayStore ? StoreWhenCompleteAsync(state.Key, variant, upstreamHolds: false) : Task.FromResult(Task.CompletedTask);
        return new FetchResult
        {
            Kind = FetchKind.Storable,
            Entry = variant,
            Response = new UpstreamResponse { StatusCode = StatusCodes.Status200OK },
            InMemory = inMemory,
            Stored = inMemory.Unwrap(),
            Derived = fromMemory,
        };
    }

    /// <summary>
    /// The original from the disk tier, when the memory tier has none (an original larger than the memory tier
    /// takes is only there): read whole (the worker needs every byte, and the disk copy is faster than the
    /// origin), up to the larger of an image input's limit and what a lookup reads whole, and promoted to memory
    /// as a disk hit is. Null when the disk has none, a purge removed it, or it is too large to read whole (it
    /// would be refused as byte-limit: it is then fetched, as it always was).
    /// </summary>
    private async ValueTask<CachedResponse?> OriginalFromDiskAsync(string key, IHeaderDictionary headers, ImagePolicy policy)
    {
        if (_engine.Disk is not { } disk) return null;
        var whole = Math.Max(CacheLookupMiddleware.WholeDiskReadBytes(_engine), policy.MaxInputBytes);
        var found = await disk.GetAsync(key, headers, whole, CancellationToken.None).ConfigureAwait(false);
        if (found is null) return null;
        if (!found.Body.IsCompleted)
        {
            found.Body.Fail(new OperationCanceledException("The disk read was not needed."));
            return null;
        }

        if (found.NeedsRuleCheck(_engine.Rules))
        {
            // A purge or TTL rule applies: gone (a hard purge), or the copy it leaves (marked stale, say).
            found = _engine.CheckRules(key, found, stored: true);
            if (found is null) return null;
        }

        _engine.DiskHit(key);
        _engine.Memory.Set(key, found);
        return found;
    }

    /// <summary>The original's request: the variant request's fields without what concerns the variant (its
    /// validators, range, negotiated Accept), asking for the identity coding, for the original's path and query.</summary>
    private static UpstreamRequest OriginalRequest(UpstreamRequest request, ImageRequest image, string originalKey)
    {
        var headers = new HeaderDictionary(request.Headers.Count);
        foreach (var h in request.Headers) headers[h.Key] = h.Value;
        headers.Remove(HeaderNames.IfNoneMatch);
        headers.Remove(HeaderNames.IfModifiedSince);
        headers.Remove(HeaderNames.IfMatch);
        headers.Remove(HeaderNames.IfUnmodifiedSince);
        headers.Remove(HeaderNames.IfRange);
        headers.Remove(HeaderNames.Range);
        headers[HeaderNames.Accept] = "*/*";
        headers[HeaderNames.AcceptEncoding] = "identity";
        var original = image.OriginalPathAndQuery;
        var q = original.IndexOf('?', StringComparison.Ordinal);
        return new UpstreamRequest
        {
            Method = HttpMethods.Get,
            Scheme = request.Scheme,
            Host = request.Host,
            PathBase = PathString.Empty,
            Path = PathString.FromUriComponent(q < 0 ? original : original[..q]),
            Query = q < 0 ? QueryString.Empty : new QueryString(original[q..]),
            Protocol = request.Protocol,
            Headers = headers,
            RemoteIp = request.RemoteIp,
            Key = originalKey,
        };
    }

    /// <summary>The original, sent in place of a variant that was not made: never stored, by this tier or any other
    /// (<c>no-store</c>), so the next request tries again and no cache keeps the wrong representation for the variant's URL.</summary>
    private static FetchResult Fallback(CachedResponse original, string reason)
    {
        var headers = new List<KeyValuePair<string, StringValues>>(original.Headers.Length + 1);
        foreach (var h in original.Headers)
        {
            if (!h.Key.Equals(HeaderNames.CacheControl, StringComparison.OrdinalIgnoreCase)
                && !h.Key.Equals(HeaderRules.CdnCacheControl, StringComparison.OrdinalIgnoreCase)
                && !h.Key.Equals(HeaderRules.EdgeCacheCacheControl, StringComparison.OrdinalIgnoreCase)
                && !h.Key.Equals(HeaderNames.Expires, StringComparison.OrdinalIgnoreCase))
            {
                headers.Add(h);
            }
        }

        headers.Add(new(HeaderNames.CacheControl, "no-store"));
        return new FetchResult { Kind = FetchKind.NotShareable, Entry = original.WithHeaders([.. headers]), Response = new UpstreamResponse { StatusCode = original.StatusCode }, ImageFallback = reason };
    }
}
