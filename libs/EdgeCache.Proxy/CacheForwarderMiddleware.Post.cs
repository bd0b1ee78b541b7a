using EdgeCache.Engine;
using EdgeCache.Proxy.Internal;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.Proxy;

/// <summary>POST responses stored as their target's GET response (RFC 9110 §9.3.3), where a host allows it.</summary>
internal sealed partial class CacheForwarderMiddleware
{
    /// <summary>
    /// A POST on a host with <see cref="HostCachePolicy.StorePostResponses"/>. It is forwarded as a
    /// pass-through forwards it (with the client's body and fields, once, never answered from cache) but
    /// through the cache's fetch, so its response streams into a body that can be stored. The client gets
    /// the response as the upstream sent it. The unsafe method's invalidations (RFC 9111 §4.4) are done
    /// when the head arrives, before the copy is stored: the other way round they would drop it. The copy
    /// is then stored under the target's key, as a GET response would be (both tiers, hits on every path).
    /// </summary>
    private async Task PostAsync(HttpContext ctx, CacheRequestState state, UpstreamTarget target)
    {
        var request = UpstreamRequest.WithBody(ctx, state.Key);
        var startSeq = _engine.AppliedSeq;
        var response = await _upstream.FetchAsync(request, target, validate: null, dropClientNoCache: false, background: false, ctx.RequestAborted).ConfigureAwait(false);
        if (response.Failed)
        {
            _engine.CountRequest(RequestOutcome.Error);
            await WritePassErrorAsync(ctx, state, response.Error, response.CertificateRejected).ConfigureAwait(false);
            return;
        }

        // The response is new from the origin (a POST is never answered from cache, on any tier): it is
        // current to what this node had applied when it was sent. The internal field is removed.
        var seq = StoredSeqOf(response, startSeq, noCache: true);
        InvalidateAfterUnsafe(ctx, state, response.StatusCode, response.Headers);

        var decision = state.MayStore
            ? PostResponseStorage.Evaluate(state.Key, request.Headers, response.StatusCode, response.Headers, state.Policy)
            : StoreDecision.RequestNoStore;
        if (decision == StoreDecision.Store && response.ContentLength > _engine.MaxStoredObjectBytes) decision = StoreDecision.TooLarge;
        CachedResponse? entry = null;
        if (decision == StoreDecision.Store)
        {
            entry = CachedResponseFactory.Create(response.StatusCode, response.Headers, request.Headers, response.Body, response.RequestTime, response.ResponseTime, _engine.Heuristics).WithStoredSeq(seq);
            if (!HitDecision.IsReusable(entry))
            {
                decision = StoreDecision.NeverReusable;
                entry = null;
            }
        }

        _engine.CountRequest(RequestOutcome.Pass);
        var status = (CacheStatus.Forwarded(Name, state.PassReason) with { FwdStatus = response.StatusCode, Stored = entry is not null }).Format();
        if (entry is null)
        {
            Log.NotStored(_engine.Logger, state.Key, decision.ToString());
            response.MakeTransient();
            await ResponseWriter.WriteUpstreamAsync(ctx, _engine, response, state.Policy, status).ConfigureAwait(false);
            return;
        }

        var inMemory = StoreWhenCompleteAsync(state.Key, entry, UpstreamHolds(response));
        await ResponseWriter.WriteUpstreamAsync(ctx, _engine, response, state.Policy, status, inMemory).ConfigureAwait(false);
        await AwaitStoredAsync(ctx, new FetchResult { Kind = FetchKind.Storable, Entry = entry, Response = response, InMemory = inMemory, Stored = inMemory.Unwrap() }).ConfigureAwait(false);
    }
}
