using EdgeCache.Engine;
using EdgeCache.Proxy.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace EdgeCache.Proxy;

/// <summary>
/// The cache's step inside YARP's proxy pipeline (after route and cluster selection, with the
/// cluster's healthy destinations): collapses misses into one upstream fetch, revalidates, serves
/// stale content where allowed, stores what may be stored, and passes the rest through.
/// </summary>
internal sealed partial class CacheForwarderMiddleware
{
    private readonly CacheEngine _engine;
    private readonly UpstreamClient _upstream;
    private readonly UpstreamPolicies _policies;
    private readonly Replication _replication;

#pragma warning disable IDE0060 // the pipeline's next step (YARP's own forwarder) is never called: this step forwards.
    public CacheForwarderMiddleware(RequestDelegate next, CacheEngine engine, UpstreamClient upstream, UpstreamPolicies policies, Replication replication)
#pragma warning restore IDE0060
    {
        _engine = engine;
        _upstream = upstream;
        _policies = policies;
        _replication = replication;
    }

    public async Task InvokeAsync(HttpContext ctx)
    {
        var state = ctx.Features.Get<CacheRequestState>()
            ?? throw new InvalidOperationException("CacheLookupMiddleware must run before the reverse proxy.");
        var proxy = ctx.GetReverseProxyFeature();
        var cluster = proxy.Route.Cluster ?? throw new InvalidOperationException("The route has no cluster.");

        // YARP's load-balancing and passive health steps do not run (this step forwards, it never
        // calls next): every upstream exchange uses the cluster's configured policies instead.
        var target = new UpstreamTarget
        {
            Route = proxy.Route,
            Cluster = cluster,
            Destinations = proxy.AvailableDestinations,
            LoadBalancing = _policies.LoadBalancing(proxy.Cluster.Config),
            PassiveHealth = _policies.PassiveHealth(proxy.Cluster.Config),
            KeyHash = ctx.Features.Get<CacheKeyFeature>()?.KeyHash ?? RendezvousHash.HashKey(state.Key),
            HostPolicy = state.Policy,
        };

        switch (state.Mode)
        {
            case RequestMode.Pass when state.MayStorePostResponse:
                await PostAsync(ctx, state, target).ConfigureAwait(false);
                break;
            case RequestMode.Pass:
                await PassAsync(ctx, state, target).ConfigureAwait(false);
                break;
            case RequestMode.StaleWhileRevalidate:
                var stored = state.Stored!;
                _engine.CountRequest(RequestOutcome.Stale);
                StartBackgroundRevalidation(UpstreamRequest.From(ctx, HttpMethods.Get, state.Key), target, state);
                var ttl = HitDecision.Ttl(stored, _engine.Time.GetUtcNow());
                await ResponseWriter.WriteEntryAsync(ctx, _engine, stored, state.Policy, CacheStatus.ForHit(Name, ttl, "memory; stale-while-revalidate").Format(), StringValues.Empty).ConfigureAwait(false);
                break;
            default:
                await FetchAndServeAsync(ctx, state, target).ConfigureAwait(false);
                break;
        }
    }

    private async Task PassAsync(HttpContext ctx, CacheRequestState state, UpstreamTarget target)
    {
        var request = UpstreamRequest.From(ctx, ctx.Request.Method, state.Key);
        var (error, status) = await _upstream.PassAsync(ctx, request, target, state.PassReason).ConfigureAwait(false);
        _engine.CountRequest(error == ForwarderError.None ? RequestOutcome.Pass : RequestOutcome.Error);
        if (error != ForwarderError.None)
        {
            await WritePassErrorAsync(ctx, state, error, Tls.UpstreamTls.Rejected(ctx)).ConfigureAwait(false);
            return;
        }

        InvalidateAfterUnsafe(ctx, state, status, ctx.Response.Headers);
    }

    /// <summary>A pass-through that got no response: 400 when the client's body was at fault, else 502 or 504.</summary>
    private Task WritePassErrorAsync(HttpContext ctx, CacheRequestState state, ForwarderError error, bool certificateRejected)
    {
        if (error is ForwarderError.RequestBodyClient && !ctx.RequestAborted.IsCancellationRequested)
        {
            // The client's body could not be read (malformed chunked framing, say): the client's
            // fault, not the upstream's. Its framing cannot be trusted, so the connection ends too.
            return ResponseWriter.WriteErrorAsync(ctx, _engine, StatusCodes.Status400BadRequest, "the request body could not be read (its framing is malformed).", CacheStatus.Forwarded(Name, state.PassReason).Format(), closeConnection: true);
        }

        var code = error is ForwarderError.RequestTimedOut ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway;
        return ResponseWriter.WriteErrorAsync(ctx, _engine, code, UpstreamErrorMessage(error, certificateRejected), CacheStatus.Forwarded(Name, state.PassReason).Format());
    }

    /// <summary>RFC 9111 §4.4: a non-error response to an unsafe method invalidates the target URI and
    /// the same-origin Location and Content-Location.</summary>
    private void InvalidateAfterUnsafe(HttpContext ctx, CacheRequestState state, int? status, IHeaderDictionary responseHeaders)
    {
        var method = ctx.Request.Method;
        if (status is >= 200 and < 400 && !HttpMethods.IsGet(method) && !HttpMethods.IsHead(method) && !HttpMethods.IsOptions(method))
        {
            _engine.Invalidate(state.Key);
            InvalidateReferenced(ctx, state, responseHeaders.Location);
            InvalidateReferenced(ctx, state, responseHeaders.ContentLocation);
        }
    }

    private void InvalidateReferenced(HttpContext ctx, CacheRequestState state, StringValues value)
    {
        if (value.Count != 1 || string.IsNullOrEmpty(value[0])) return;
        var baseUri = new Uri(state.Key);
        if (!Uri.TryCreate(baseUri, value[0], out var target)) return;
        if (target.Scheme != baseUri.Scheme || !string.Equals(target.Authority, baseUri.Authority, StringComparison.OrdinalIgnoreCase)) return;
        _engine.Invalidate(CacheKey.Build(target.Scheme, target.Authority, target.PathAndQuery, state.Policy));
        _ = ctx;
    }

    private async Task FetchAndServeAsync(HttpContext ctx, CacheRequestState state, UpstreamTarget target)
    {
        var request = UpstreamRequest.From(ctx, HttpMethods.Get, state.Key);
        FetchResult result;
        var collapsed = false;

        // A peer's replication request fills from the shields only and may fail where a client's would not: no
        // client waits on it.
        if (state.MayCollapse && _replication.Read(request.Headers) != PeerRequest.Replicate)
        {
            var flight = _engine.Flights.JoinOrStart(state.Key, out var leader);
            if (leader && StoredSinceLookup(ctx, state) is { } already)
            {
                // The lookup missed, then the flight it would have joined landed (stored its copy)
                // before this request came to join it: serve that copy, never fetch it again.
                _engine.Flights.Complete(flight, already);
                result = already;
            }
            else if (leader)
            {
                result = await LeadAsync(flight, request, target, state).ConfigureAwait(false);
            }
            else
            {
                result = await flight.Outcome.Task.WaitAsync(ctx.RequestAborted).ConfigureAwait(false);
                collapsed = true;
                if (!Fits(result, ctx.Request, _engine.Time.GetUtcNow()) || (result.Entry is { } entry && PredatesPurge(state.Key, entry)))
                {
                    // Not shareable, another variant, or (a request that joined while the body
                    // streamed in) a copy a purge applied since has ruled out: this request
                    // fetches on its own.
                    collapsed = false;
                    result = await FetchOnceAsync(request, target, state).ConfigureAwait(false);
                }
            }
        }
        else
        {
            result = await FetchOnceAsync(request, target, state).ConfigureAwait(false);
        }

        await ServeAsync(ctx, state, result, collapsed).ConfigureAwait(false);
    }

    /// <summary>
    /// A fresh copy in the memory tier that this plain miss may be answered with, stored since its
    /// lookup missed; null when there is none (the usual case: one more memory lookup per miss).
    /// </summary>
    private FetchResult? StoredSinceLookup(HttpContext ctx, CacheRequestState state)
    {
        if (state.Stored is not null || state.MustRevalidate || state.Mode != RequestMode.Fetch) return null;
        var entry = _engine.Memory.Get(state.Key, ctx.Request.Headers, out _);
        if (entry is not null && entry.NeedsRuleCheck(_engine.Rules)) entry = _engine.CheckRules(state.Key, entry, stored: true);
        if (entry is null || entry.IsPartial) return null;
        var hit = HitDecision.Evaluate(entry, state.RequestDirectives, forced: false, _engine.IsCurrent, HitDecision.ClientAccepts(entry, ctx.Request.Headers.AcceptEncoding), _engine.Time.GetUtcNow());
        if (hit.Kind != HitKind.Fresh) return null;
        return new FetchResult { Kind = FetchKind.AlreadyStored, Entry = entry, Response = new UpstreamResponse { StatusCode = entry.StatusCode }, Stored = Task.CompletedTask };
    }

    private async Task<FetchResult> LeadAsync(FlightTable.Flight flight, UpstreamRequest request, UpstreamTarget target, CacheRequestState state)
    {
        FetchResult? result = null;
        try
        {
            result = await FetchOnceAsync(request, target, state).ConfigureAwait(false);
            return result;
        }
        finally
        {
            _engine.Flights.Complete(flight, result ?? new FetchResult { Kind = FetchKind.Failed, Response = new UpstreamResponse { Error = ForwarderError.Request } });
        }
    }

    private void StartBackgroundRevalidation(UpstreamRequest request, UpstreamTarget target, CacheRequestState state)
    {
        // One background refresh per key: a fetch already in flight serves the purpose.
        var flight = _engine.Flights.TryStart(state.Key);
        if (flight is null) return;
        _ = Task.Run(async () =>
        {
            FetchResult? result = null;
            try
            {
                result = await FetchOnceAsync(request, target, state, background: true).ConfigureAwait(false);
                if (result.Kind == FetchKind.Failed) Log.BackgroundRevalidationFailed(_engine.Logger, result.Response.Error.ToString());
            }
            catch (Exception ex)
            {
                Log.BackgroundRevalidationFailed(_engine.Logger, ex.Message);
            }
            finally
            {
                _engine.Flights.Complete(flight, result ?? new FetchResult { Kind = FetchKind.Failed, Response = new UpstreamResponse { Error = ForwarderError.Request } });
            }
        });
    }

    private async Task<FetchResult> FetchOnceAsync(UpstreamRequest request, UpstreamTarget target, CacheRequestState state, bool background = false, bool noCache = false, bool mayComplete = true)
    {
        var validate = state.Stored;
        noCache |= state.UpstreamNoCache;
        if (state.Image is { } image && _engine.MakesImages(state.Policy)) return await FetchImageAsync(request, target, state, image, noCache).ConfigureAwait(false);
        if (!background && !noCache && validate is null && TryDeriveFromStored(request, state) is { } derived) return derived;

        // A stored partial this request needs more than is completed with a range request for the rest
        // (RFC 9111 §3.3) when it has a strong validator (entity-tag, or Last-Modified) and its whole representation is no larger than
        // an object read whole (the combined copy is built in one array before it is served).
        var complete = mayComplete && validate is null && !background && state.Partial is { } p && PartialContent.MayComplete(p)
            && p.Partial!.Value.Complete <= Math.Min(_engine.MaxStoredObjectBytes, CacheLookupMiddleware.WholeDiskReadBytes(_engine)) ? p : null;
        var startSeq = _engine.AppliedSeq;
        var peerRequest = _replication.Read(request.Headers);
        var fromPeer = await PeerFillAsync(request, target, peerRequest, plainMiss: validate is null && !background && !noCache && complete is null).ConfigureAwait(false);
        if (fromPeer is null && peerRequest == PeerRequest.Replicate)
        {
            // Asked to replicate: from the shields only. The peer that asked no longer holds it (or is gone).
            return new FetchResult { Kind = FetchKind.Failed, Response = new UpstreamResponse { Error = ForwarderError.RequestTimedOut } };
        }

        var response = fromPeer ?? await _upstream.FetchAsync(request, target, validate, state.DropClientNoCache, background, CancellationToken.None, noCache, complete).ConfigureAwait(false);
        if (response.Failed)
        {
            return new FetchResult { Kind = FetchKind.Failed, Response = response };
        }

        // A copy id is the purge API's, set on a shield's refresh; an origin's is dropped.
        if (_engine.Options.Role == NodeRole.Shield) response.Headers.Remove(HeaderRules.CopyId);
        if (state.Warm == WarmMode.Refresh) response.Headers[HeaderRules.CopyId] = state.CopyId;

        // Which tier made an encoding, and at which level, is the shield's to say; an origin's claim is dropped.
        if (!_engine.TrustsUpstreamEncoded(state.Policy)) response.Headers.Remove(HeaderRules.Encoded);
        var seq = StoredSeqOf(response, startSeq, noCache, fromPeer is not null);

        // Fetched from the origin by a shield that replicates: its second home fills from here once it is stored.
        var push = fromPeer is null && peerRequest == PeerRequest.None && _replication.Enabled;
        var heuristics = _engine.Heuristics;

        // A copy from a peer is checked against the purges applied here whatever this request asked (its own
        // no-cache goes to the origin, not to a peer), and one a purge rules out is never kept.
        var checkPurges = !noCache || fromPeer is not null;
        if (complete is not null && response.StatusCode == StatusCodes.Status206PartialContent
            && await CombineAsync(request, target, state, complete, response, seq).ConfigureAwait(false) is { } combined)
        {
            return combined;
        }

        if (complete is not null && response.StatusCode == StatusCodes.Status416RangeNotSatisfiable)
        {
            // The range was the cache's, not the client's: an upstream that refuses it (it cannot for the
            // representation If-Range names) is asked for the whole instead.
            response.Abort();
            return await FetchOnceAsync(request, target, state, background, noCache, mayComplete: false).ConfigureAwait(false);
        }

        if (response.StatusCode == StatusCodes.Status304NotModified && validate is not null && response.SentValidators)
        {
            // RFC 9111 §4.3.4: freshen the stored response with the 304's fields.
            var updated = CachedResponseFactory.Freshen(validate, response.Headers, request.Headers, response.RequestTime, response.ResponseTime, heuristics).WithStoredSeq(seq);
            if (!noCache && PredatesPurge(state.Key, updated))
            {
                response.Abort();
                return await FetchOnceAsync(request, target, state, background, noCache: true).ConfigureAwait(false);
            }

            // A 304 that sets a cookie makes the freshened copy one with Set-Cookie, which a host that does
            // not store those must not keep either: its cookie goes to this requester only, and the stale
            // copy stays to be revalidated by the next request.
            if (!state.Policy.StoreSetCookie && response.Headers.ContainsKey(Microsoft.Net.Http.Headers.HeaderNames.SetCookie))
            {
                Log.NotStored(_engine.Logger, state.Key, nameof(StoreDecision.SetCookie));
                return new FetchResult { Kind = FetchKind.Revalidated, Entry = updated, Response = response, Personal = true };
            }

            // The disk has a copy already (the one just freshened): the new head's write may wait in the background.
            if (state.MayStore) _ = _engine.Store(state.Key, updated);
            return new FetchResult { Kind = FetchKind.Revalidated, Entry = updated, Response = response };
        }

        var retry = false;
        if (state.MayStore && _engine.Produces(state.Policy) && TryStoreOriginal(request, state, response, seq, !checkPurges, out retry, push, target.KeyHash) is { } original)
        {
            return original;
        }

        if (retry)
        {
            response.Abort();
            return peerRequest == PeerRequest.Replicate ? PeerCopyPurged() : await FetchOnceAsync(request, target, state, background, noCache: true).ConfigureAwait(false);
        }

        var decision = state.MayStore
            ? StoragePolicy.Evaluate(HttpMethods.Get, request.Headers, response.StatusCode, response.Headers, state.Policy)
            : StoreDecision.RequestNoStore;
        if (decision == StoreDecision.Store && response.ContentLength > (response.StatusCode == StatusCodes.Status206PartialContent ? _engine.Memory.MaxObjectBytes : _engine.MaxStoredObjectBytes))
        {
            // A partial is kept in memory only (CacheEngine.Store).
            decision = StoreDecision.TooLarge;
        }

        if (decision != StoreDecision.Store)
        {
            Log.NotStored(_engine.Logger, state.Key, decision.ToString());
            if (background)
            {
                response.Abort();
            }
            else
            {
                response.MakeTransient();
            }

            return new FetchResult { Kind = FetchKind.NotShareable, Response = response };
        }

        var entry = CachedResponseFactory.Create(response.StatusCode, response.Headers, request.Headers, response.Body, response.RequestTime, response.ResponseTime, heuristics).WithStoredSeq(seq);
        if (!HitDecision.IsReusable(entry))
        {
            // Stored, it would be stale from the start and never served without going upstream; each
            // made-up URL would cost an entry (a cheap way to flush the memory tier). Passed through.
            Log.NotStored(_engine.Logger, state.Key, nameof(StoreDecision.NeverReusable));
            if (background) response.Abort();
            else response.MakeTransient();
            return new FetchResult { Kind = FetchKind.NotShareable, Response = response, Pass = true };
        }

        if (checkPurges && PredatesPurge(state.Key, entry))
        {
            // Read-your-purge: the upstream tier (or a peer) served a copy stored before a purge this node has
            // applied (it has not applied it yet). Ask again, past its cache (a replication request: not at all).
            response.Abort();
            return peerRequest == PeerRequest.Replicate ? PeerCopyPurged() : await FetchOnceAsync(request, target, state, background, noCache: true).ConfigureAwait(false);
        }

        if (state.Warm != WarmMode.None) entry.MarkWarmed();

        // A copy the shield made at a fast level is hot here, not there (its hits are this tier's misses): watched here.
        _engine.Recompressions.WatchFetched(state.Key, entry, state.Policy.Compression);
        var inMemory = StoreWhenCompleteAsync(state.Key, entry, UpstreamHolds(response));
        if (push) _replication.Enqueue(request, target.KeyHash, inMemory.Unwrap());
        return new FetchResult { Kind = FetchKind.Storable, Entry = entry, Response = response, InMemory = inMemory, Stored = inMemory.Unwrap() };
    }

    private static async Task DiscardAsync(UpstreamResponse response, CancellationToken cancellationToken)
    {
        try
        {
            if (response.ContentLength is >= 0 and <= 64 * 1024 && await response.Body.WaitForCompletionAsync(cancellationToken).ConfigureAwait(false)) return;
        }
        catch (OperationCanceledException)
        {
        }

        response.Abort();
    }

    private static FetchResult PeerCopyPurged() =>
        new() { Kind = FetchKind.Failed, Response = new UpstreamResponse { Error = ForwarderError.RequestTimedOut } };

    /// <summary>
    /// Shields that replicate: a plain miss (and a peer's replication request, whatever this shield holds) asks
    /// the key's peer for its stored copy before the origin (<see cref="Replication"/>). The peer's answer when it
    /// had one, else null (not asked, no live peer, a 504, no answer within <c>PeerFillTimeout</c>). A peer's own
    /// fill is never passed on: it was answered from this cache or refused before it came here.
    /// </summary>
    private async Task<UpstreamResponse?> PeerFillAsync(UpstreamRequest request, UpstreamTarget target, PeerRequest peerRequest, bool plainMiss)
    {
        if (peerRequest == PeerRequest.Fill || request.Body is not null) return null;
        if (!(peerRequest == PeerRequest.Replicate || (plainMiss && _replication.PeerFill))) return null;
        if (_replication.PeerTarget(target) is not { } peer) return null;
        using var timeout = new CancellationTokenSource(_replication.PeerFillTimeout);
        var response = await _upstream.FetchAsync(request, peer, validate: null, dropClientNoCache: true, background: false, timeout.Token, peerFill: true).ConfigureAwait(false);
        if (response.Failed)
        {
            _engine.Replication.CountFill(hit: null);
            return null;
        }

        if (response.StatusCode == StatusCodes.Status504GatewayTimeout || !Replication.AnsweredFromCache(response.Headers))
        {
            // No stored copy there (504), or an answer that is not one (the peer's own error, say): the origin is asked.
            // A short answer is read to its end rather than cut, which would be logged as a failed upstream body.
            _engine.Replication.CountFill(hit: response.StatusCode == StatusCodes.Status504GatewayTimeout ? false : null);
            await DiscardAsync(response, timeout.Token).ConfigureAwait(false);
            return null;
        }

        _engine.Replication.CountFill(hit: true);
        return response;
    }

    /// <summary>
    /// A 206 in answer to the range request that completes <paramref name="partial"/>: combined with it
    /// when it is storable, has the same strong validator (RFC 9111 §3.4) and the two spans make the
    /// whole representation, into a complete 200 (RFC 9110 §15.3.7.3). The new part is read whole
    /// before anything is served (the combined copy is what the client gets). Null for any other 206
    /// (another representation, a span that leaves a gap or still leaves the object incomplete, one
    /// that may not be stored): it is then handled as any fetched 206, stored as a partial when it may
    /// be and passed on. Such a 206 comes from an upstream that ignored the range asked for (it sends the
    /// same part whatever is asked) or sent less than asked: asking again would only fetch it again.
    /// </summary>
    private async Task<FetchResult?> CombineAsync(UpstreamRequest request, UpstreamTarget target, CacheRequestState state, CachedResponse partial, UpstreamResponse response, ulong seq)
    {
        var storable = state.MayStore
            && StoragePolicy.Evaluate(HttpMethods.Get, request.Headers, response.StatusCode, response.Headers, state.Policy) == StoreDecision.Store
            && PartialContent.SameStrongValidator(partial, response.Headers)
            && PartialSpan.TryParse(response.Headers[Microsoft.Net.Http.Headers.HeaderNames.ContentRange], out var added)
            && PartialSpan.Union(partial.Partial!.Value, added) is not null;
        if (storable && !await response.Body.WaitForCompletionAsync(CancellationToken.None).ConfigureAwait(false))
        {
            response.Error = ForwarderError.ResponseBodyDestination;
            return new FetchResult { Kind = FetchKind.Failed, Response = response };
        }

        var combined = storable
            ? CachedResponseFactory.Combine(partial, response.Headers, response.Body, request.Headers, response.RequestTime, response.ResponseTime, _engine.Heuristics)?.WithStoredSeq(Math.Min(seq, partial.StoredSeq))
            : null;
        if (combined is null || combined.IsPartial) return null;
        if (PredatesPurge(state.Key, combined))
        {
            // Read-your-purge: the stored part predates a purge applied since; fetch the whole anew.
            response.Abort();
            return await FetchOnceAsync(request, target, state, noCache: true, mayComplete: false).ConfigureAwait(false);
        }

        var inMemory = StoreWhenCompleteAsync(state.Key, combined, UpstreamHolds(response));
        return new FetchResult { Kind = FetchKind.Storable, Entry = combined, Response = response, InMemory = inMemory, Stored = inMemory.Unwrap() };
    }

    /// <summary>
    /// The invalidation-stream sequence an upstream copy is current to: the upstream tier's own
    /// (<c>EdgeCache-Stored-Seq</c>, from shields) when it served from its cache and this node trusts
    /// it, else this node's applied sequence when the fetch started. The internal field is removed.
    /// </summary>
    private ulong StoredSeqOf(UpstreamResponse response, ulong startSeq, bool noCache, bool fromPeer = false)
    {
        var value = response.Headers[HeaderRules.StoredSeq];
        if (value.Count == 0) return fromPeer ? 0 : startSeq;
        response.Headers.Remove(HeaderRules.StoredSeq);

        // A peer's copy keeps the peer's sequence (0, older than every purge, when it sent none or a bad one).
        if (fromPeer) return value.Count == 1 && ulong.TryParse(value[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var peerSeq) ? peerSeq : 0;
        var trust = _engine.Options.Invalidation.TrustUpstreamStoredSeq ?? _engine.Options.Role == NodeRole.Edge;
        if (noCache || !trust || value.Count != 1) return startSeq;
        return ulong.TryParse(value[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seq) ? seq : startSeq;
    }

    private bool PredatesPurge(string key, CachedResponse entry) =>
        entry.NeedsRuleCheck(_engine.Rules) && _engine.Rules.Evaluate(key, entry.Tags, entry.StoredSeq, entry.CopyId).Kind == RuleKind.Hard;

    /// <summary>
    /// Waits, after the answer was written, until its copy is in the memory tier: the body's
    /// completion stores it from another continuation, which under load could run after the client's
    /// next request on this connection (Kestrel reads it only once this request ends), which would
    /// then be a needless miss. A client that went away does not wait.
    /// </summary>
    private static async Task AwaitStoredAsync(HttpContext ctx, FetchResult result)
    {
        if (result.Stored is not { IsCompleted: false } stored || ctx.RequestAborted.IsCancellationRequested) return;
        try
        {
            await stored.WaitAsync(ctx.RequestAborted).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // the answer is already written: the store failing is never the client's problem (STYLE: errors)
        catch (Exception)
        {
        }
#pragma warning restore CA1031
    }

    /// <summary>
    /// Stores a complete body in memory, and queues its disk write. The task completes once the copy
    /// is in the memory tier (the client's last byte waits for that, see <see cref="FetchResult.InMemory"/>);
    /// its result completes once the disk write is queued (the request awaits it, see
    /// <see cref="AwaitStoredAsync"/>), so under a burst of new objects the requests that bring them
    /// wait for the disk rather than the object being lost.
    /// </summary>
    private async Task<Task> StoreWhenCompleteAsync(string key, CachedResponse entry, bool upstreamHolds)
    {
        // Only a complete body is ever stored: a transfer that breaks leaves nothing behind. Stored
        // on the thread that ends the body (Completion), not after one more thread-pool hop: the
        // memory tier's Set and queueing the disk write are short and never block.
        if (!await entry.Body.Completion.ConfigureAwait(false)) return Task.CompletedTask;
        if (entry.Partial is { } span && entry.Body.Length != span.Length)
        {
            // A 206 whose content is not the span its Content-Range names is not stored (RFC 9111 §3.3).
            Log.NotStored(_engine.Logger, key, nameof(StoreDecision.PartialNotUnderstood));
            return Task.CompletedTask;
        }

        var queued = _engine.Store(key, entry, upstreamHolds);
        Log.Stored(_engine.Logger, key, entry.Body.Length);
        return queued;
    }

    /// <summary>
    /// True on an edge when its shield says it holds the object (its Cache-Status member has <c>hit</c>
    /// or <c>stored</c>): then this copy is not the last, and its disk write may be dropped under a burst.
    /// A shield's upstream is the origin: its copy is always the last.
    /// </summary>
    private bool UpstreamHolds(UpstreamResponse response) =>
        _engine.Options.Role == NodeRole.Edge && CacheStatus.Holds(response.Headers[HeaderRules.CacheStatus], EdgeCacheOptions.ShieldCacheName);

    private async Task ServeAsync(HttpContext ctx, CacheRequestState state, FetchResult result, bool collapsed)
    {
        if (result.Derived)
        {
            // Made here from a stored original: no upstream exchange, a hit of the object.
            _engine.CountRequest(RequestOutcome.Hit, "memory");
            await ResponseWriter.WriteEntryAsync(ctx, _engine, result.Entry!, state.Policy, CacheStatus.ForHit(Name, Ttl(result.Entry!), "memory; derived").Format(), StringValues.Empty, result.InMemory).ConfigureAwait(false);
            await AwaitStoredAsync(ctx, result).ConfigureAwait(false);
            return;
        }

        if (result.Kind == FetchKind.AlreadyStored)
        {
            _engine.CountRequest(RequestOutcome.Hit, "memory");
            result.Entry!.CountHit();
            var detail = state.Warm == WarmMode.None && result.Entry!.TryClaimWarmed() ? CacheLookupMiddleware.Warmed : "memory";
            await ResponseWriter.WriteEntryAsync(ctx, _engine, result.Entry!, state.Policy, CacheStatus.ForHit(Name, Ttl(result.Entry!), detail).Format(), StringValues.Empty).ConfigureAwait(false);
            return;
        }

        var stale = state.Stored;
        if (result.ImageFallback is { } refused)
        {
            // A variant that could not be made: the original, saying why (never a broken image).
            _engine.CountRequest(RequestOutcome.Miss);
            var status = CacheStatus.Forwarded(Name, stale is not null ? "stale" : state.UrlKnown ? "vary-miss" : "uri-miss") with { FwdStatus = result.Entry!.StatusCode, Collapsed = collapsed, Detail = "image-fallback; image-refused=" + refused };
            await ResponseWriter.WriteEntryAsync(ctx, _engine, result.Entry!, state.Policy, status.Format(), StringValues.Empty).ConfigureAwait(false);
            return;
        }

        var fwd = stale is not null ? (state.ClientForcedRevalidation ? "request" : "stale") : state.Partial is not null ? "partial" : state.UrlKnown ? "vary-miss" : "uri-miss";
        int? upstreamStatus = result.Kind == FetchKind.Failed ? null : result.Response.StatusCode;

        var upstreamError = result.Kind == FetchKind.Failed || upstreamStatus is 500 or 502 or 503 or 504;
        if (upstreamError && stale is not null && HitDecision.MayServeOnError(stale, state.RequestDirectives, _engine.IsCurrent, _engine.Time.GetUtcNow()))
        {
            // RFC 5861 §4: stale-if-error.
            if (result.Kind == FetchKind.NotShareable) result.Response.Abort();
            _engine.CountRequest(RequestOutcome.Stale);
            var ttl = Ttl(stale);
            await ResponseWriter.WriteEntryAsync(ctx, _engine, stale, state.Policy, (CacheStatus.Forwarded(Name, fwd) with { FwdStatus = upstreamStatus, Collapsed = collapsed, Ttl = ttl, Detail = "memory; stale-if-error" }).Format(), StringValues.Empty).ConfigureAwait(false);
            return;
        }

        if (state.Policy.EarlyHints && _engine.Options.Role == NodeRole.Edge && HttpMethods.IsGet(ctx.Request.Method)) RememberHints(state.Key, result);
        _engine.CountRequest(result.Kind switch
        {
            FetchKind.Failed => RequestOutcome.Error,
            FetchKind.Revalidated => RequestOutcome.Revalidated,
            _ when result.Pass => RequestOutcome.Pass,
            _ => RequestOutcome.Miss,
        });
        switch (result.Kind)
        {
            case FetchKind.Failed:
                var code = result.Response.ErrorStatus;
                await ResponseWriter.WriteErrorAsync(ctx, _engine, code, UpstreamErrorMessage(result.Response.Error, result.Response.CertificateRejected), (CacheStatus.Forwarded(Name, fwd) with { Collapsed = collapsed }).Format()).ConfigureAwait(false);
                break;
            case FetchKind.Revalidated:
                await ResponseWriter.WriteEntryAsync(ctx, _engine, result.Entry!, state.Policy, (CacheStatus.Forwarded(Name, fwd) with { FwdStatus = 304, Stored = state.MayStore && !result.Personal, Collapsed = collapsed, Ttl = Ttl(result.Entry!) }).Format(), StringValues.Empty).ConfigureAwait(false);
                break;
            case FetchKind.Storable:
                await ResponseWriter.WriteEntryAsync(ctx, _engine, result.Entry!, state.Policy, (CacheStatus.Forwarded(Name, fwd) with { FwdStatus = upstreamStatus, Stored = true, Collapsed = collapsed, Ttl = Ttl(result.Entry!) }).Format(), result.UpstreamCacheStatus, result.InMemory).ConfigureAwait(false);
                await AwaitStoredAsync(ctx, result).ConfigureAwait(false);
                break;
            default:
                await ResponseWriter.WriteUpstreamAsync(ctx, _engine, result.Response, state.Policy, (CacheStatus.Forwarded(Name, fwd) with { FwdStatus = upstreamStatus, Collapsed = collapsed }).Format()).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>The 103 Early Hints the next request for this URL gets (see <see cref="EarlyHints"/>): from
    /// each final 2xx response an upstream sent, or the stored response a 304 freshened.</summary>
    private void RememberHints(string key, FetchResult result)
    {
        switch (result.Kind)
        {
            case FetchKind.Storable or FetchKind.NotShareable when result.Response.StatusCode is >= 200 and < 300:
                _engine.EarlyHints.Remember(key, result.Response.Headers[HeaderNames.Link]);
                break;
            case FetchKind.Revalidated:
                _engine.EarlyHints.Remember(key, result.Entry!.GetHeader(HeaderNames.Link));
                break;
        }
    }

    /// <summary>True when a request that joined a flight may be answered with its result: a partial only
    /// when it covers the request's range (<see cref="PartialContent.Answers"/>).</summary>
    private static bool Fits(FetchResult result, HttpRequest request, DateTimeOffset now) => result.Kind switch
    {
        FetchKind.Failed => true,
        FetchKind.NotShareable => false,
        _ when result.Personal => false,
        _ when result.Entry!.IsPartial && !PartialContent.Answers(result.Entry, request.Method, request.Headers, now, out _, out _) => false,
        _ => HitDecision.Selects(result.Entry!, request.Headers),
    };

    private long Ttl(CachedResponse entry) => HitDecision.Ttl(entry, _engine.Time.GetUtcNow());

    /// <summary>This tier's Cache-Status name.</summary>
    private string Name => _engine.Options.CacheName;

    private static string UpstreamErrorMessage(ForwarderError error, bool certificateRejected) => error switch
    {
        _ when certificateRejected => "the upstream's TLS certificate was not trusted (this node's log says why: event 1410).",
        ForwarderError.RequestTimedOut => "the upstream did not answer in time.",
        ForwarderError.NoAvailableDestinations => "no upstream is available for this host.",
        ForwarderError.Request => "the upstream could not be reached.",
        _ => $"the upstream failed ({error}).",
    };
}
