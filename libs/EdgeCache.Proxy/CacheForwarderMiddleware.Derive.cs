using EdgeCache.Engine;
using EdgeCache.Proxy.Internal;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.Proxy;

/// <summary>Compression on a tier that makes encodings (<see cref="CacheEngine.Produces"/>): an original is
/// stored under its own coding and the client's coding derived from it while it streams in; a later miss for
/// another coding is derived from the stored original, never fetched again.</summary>
internal sealed partial class CacheForwarderMiddleware
{
    /// <summary>
    /// A 200 that may be an original (<see cref="Representation.IsOriginal"/>): stored under its own coding
    /// (with Accept-Encoding added to its Vary), and, when the request negotiated another coding, that
    /// representation made from it as it arrives and stored too; the client gets the one it negotiated.
    /// Null when the response is not an original or may not be stored (the usual path then decides);
    /// <paramref name="retry"/> when it predates a purge this node applied (fetched again past the upstream's cache).
    /// </summary>
    /// <paramref name="push"/>: fetched from the origin on a shield that replicates; the original (its own coding) is
    /// pushed to the key's peer, which makes its codings from it as this shield does.
    private FetchResult? TryStoreOriginal(UpstreamRequest request, CacheRequestState state, UpstreamResponse response, ulong seq, bool noCache, out bool retry, bool push = false, ulong keyHash = 0)
    {
        retry = false;
        var compression = state.Policy.Compression;
        if (!Representation.IsOriginal(response.StatusCode, response.Headers, compression, out var source, out var compressible)) return null;

        // The original is stored as the answer to a request for its own coding.
        var originalRequest = new HeaderDictionary(request.Headers.Count);
        foreach (var h in request.Headers) originalRequest[h.Key] = h.Value;
        originalRequest[Microsoft.Net.Http.Headers.HeaderNames.AcceptEncoding] = Representation.Name(source);
        if (StoragePolicy.Evaluate(HttpMethods.Get, originalRequest, response.StatusCode, response.Headers, state.Policy) != StoreDecision.Store
            || response.ContentLength > _engine.MaxStoredObjectBytes)
        {
            return null;
        }

        Representation.AddVary(response.Headers);
        var original = CachedResponseFactory.Create(response.StatusCode, response.Headers, originalRequest, response.Body, response.RequestTime, response.ResponseTime, _engine.Heuristics).WithStoredSeq(seq);
        if (!HitDecision.IsReusable(original)) return null;
        if (!noCache && PredatesPurge(state.Key, original))
        {
            retry = true;
            return null;
        }

        var upstreamHolds = UpstreamHolds(response);
        var storedOriginal = StoreWhenCompleteAsync(state.Key, original, upstreamHolds);
        if (push) _replication.Enqueue(request.WithHeaders(originalRequest), keyHash, storedOriginal.Unwrap());
        var wanted = compression.Negotiation.Negotiate(request.Headers[Microsoft.Net.Http.Headers.HeaderNames.AcceptEncoding]);
        var target = Representation.TargetCoding(wanted, source, compressible);
        if (target == source)
        {
            return new FetchResult { Kind = FetchKind.Storable, Entry = original, Response = response, InMemory = storedOriginal, Stored = storedOriginal.Unwrap() };
        }

        var derived = _engine.Derivations.Derive(state.Key, original, source, target, wanted, compression, out var started);
        var storedDerived = started ? StoreWhenCompleteAsync(state.Key, derived, upstreamHolds) : Task.FromResult(Task.CompletedTask);
        return new FetchResult
        {
            Kind = FetchKind.Storable,
            Entry = derived,
            Response = response,
            InMemory = storedDerived,
            Stored = Task.WhenAll(storedOriginal.Unwrap(), storedDerived.Unwrap()),
        };
    }

    /// <summary>
    /// A miss for a coding whose original (or any representation of it, identity first) is in the memory
    /// tier and fresh: that coding made from it, once however many ask at the same time, and stored. Null
    /// when there is none (the request then goes upstream).
    /// </summary>
    private FetchResult? TryDeriveFromStored(UpstreamRequest request, CacheRequestState state)
    {
        if (state.Partial is not null || state.MustRevalidate || !state.MayStore || !_engine.Produces(state.Policy)) return null;
        var compression = state.Policy.Compression;
        var now = _engine.Time.GetUtcNow();
        CachedResponse? best = null;
        string? bestCoding = null;
        var bestCompressible = false;
        foreach (var stored in _engine.Memory.Variants(state.Key))
        {
            if (stored.IsPartial || stored.StatusCode != StatusCodes.Status200OK || !stored.Body.IsCompleted || stored.VaryNames is not ["accept-encoding"]) continue;
            var v = stored.NeedsRuleCheck(_engine.Rules) ? _engine.CheckRules(state.Key, stored, stored: true) : stored;
            if (v is null || HitDecision.Evaluate(v, state.RequestDirectives, forced: false, _engine.IsCurrent, acceptsCoding: true, now).Kind != HitKind.Fresh) continue;
            var view = new HeaderDictionary(v.Headers.Length);
            foreach (var h in v.Headers) view.Append(h.Key, h.Value);
            if (!Representation.IsOriginal(v.StatusCode, view, compression, out var coding, out var compressible)) continue;
            if (best is null || (coding is null && bestCoding is not null))
            {
                (best, bestCoding, bestCompressible) = (v, coding, compressible);
            }
        }

        if (best is null) return null;
        var wanted = compression.Negotiation.Negotiate(request.Headers[Microsoft.Net.Http.Headers.HeaderNames.AcceptEncoding]);
        var target = Representation.TargetCoding(wanted, bestCoding, bestCompressible);

        // The same bytes under another key: not worth a copy, and only a fetch knows what the upstream sends.
        if (target == bestCoding) return null;
        var derived = _engine.Derivations.Derive(state.Key, best, bestCoding, target, wanted, compression, out var started);
        var inMemory = started ? StoreWhenCompleteAsync(state.Key, derived, upstreamHolds: false) : Task.FromResult(Task.CompletedTask);
        return new FetchResult
        {
            Kind = FetchKind.Storable,
            Entry = derived,
            Response = new UpstreamResponse { StatusCode = StatusCodes.Status200OK },
            InMemory = inMemory,
            Stored = inMemory.Unwrap(),
            Derived = true,
        };
    }
}
