using EdgeCache.Engine;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// Sends requests upstream through YARP's forwarder, in place of YARP's load-balancing and passive
/// health steps (which never run: the cache's step does not call next). Every exchange, whether a
/// client waits on it or not, picks its destination with the cluster's configured load-balancing
/// policy and then tells the configured passive health policy how it went, as YARP's own steps
/// would. After a connection failure an idempotent request without a body is retried once on the
/// next destination the policy picks, so a dead shield costs at most the requests already sent to it.
/// </summary>
internal sealed class UpstreamClient(IHttpForwarder forwarder, CacheEngine engine, ILogger<UpstreamClient> logger)
{
    public static readonly HttpRequestOptionsKey<TimeSpan> ConnectTimeoutKey = new("EdgeCache.ConnectTimeout");

    /// <summary>Fetches for the cache; returns once the response head arrived (the body keeps streaming into it) or the fetch failed.
    /// <paramref name="complete"/>, a stored partial, asks for the rest of it (<see cref="RequestRewriter.ApplyFetch"/>).
    /// <paramref name="peerFill"/>: a fill from another shield's cache (<see cref="Replication"/>), asked with
    /// <c>only-if-cached</c> and never retried on another destination.</summary>
    public async Task<UpstreamResponse> FetchAsync(UpstreamRequest request, UpstreamTarget target, CachedResponse? validate, bool dropClientNoCache, bool background, CancellationToken cancellationToken, bool noCache = false, CachedResponse? complete = null, bool peerFill = false)
    {
        UpstreamResponse? next = null;
        UpstreamResponse? sent = null;
        // A request with the client's body (a POST) is sent once: it is not idempotent, and its body is read as it goes.
        await ExchangeAsync(target, request.Method, NewContext, SendAsync, request.Body is null && !peerFill ? static _ => true : static _ => false, cancellationToken).ConfigureAwait(false);
        return sent ?? new UpstreamResponse { Error = ForwarderError.NoAvailableDestinations };

        // Each attempt has its own captured response, and a context that belongs to no client: the
        // fetch may outlive the request that started it.
        HttpContext NewContext()
        {
            next = new UpstreamResponse();
            var ctx = CaptureContext.Create(request, next, next.Cancellation.Token);
            ctx.Features.Set<IReverseProxyFeature>(new ReverseProxyFeature
            {
                Route = target.Route,
                Cluster = target.Cluster.Model,
                AllDestinations = target.Cluster.DestinationsState.AllDestinations,
                AvailableDestinations = target.Destinations,
            });
            return ctx;
        }

        async Task<ForwarderError> SendAsync(HttpContext ctx, DestinationState destination)
        {
            var response = sent = next!;
            response.StartDeadline(target.HostPolicy.TransferTimeout);
            using var link = cancellationToken.Register(static r => ((UpstreamResponse)r!).Abort(), response);
            var transformer = new FetchTransformer(engine, request, response, validate, dropClientNoCache, background, noCache, ToShields(target), complete, peerFill);
            var watch = request.Body is null ? DownWatch.For(destination, target, ToShields(target)) : null;
            var send = ForwardAsync(ctx, destination, target, transformer);
            var arrived = Task.WhenAny(response.Head.Task, send);
            if (watch is not null && await watch.MarkedDownBeforeAsync(arrived).ConfigureAwait(false) && !response.Head.Task.IsCompleted)
            {
                Abandon(ctx, destination, request.Method);
                response.Abort();
            }

            await arrived.ConfigureAwait(false);
            if (response.Head.Task.IsCompleted)
            {
                // The body streams on; the passive health policy hears of the exchange when it ends.
                _ = FinishAsync(send, response);
                return ForwarderError.None;
            }

            var error = await send.ConfigureAwait(false);
            response.StopDeadline();
            if (Abandoned(ctx)) error = ForwarderError.Request;
            response.Error = error == ForwarderError.None ? ForwarderError.ResponseHeaders : error;
            response.CertificateRejected = Tls.UpstreamTls.Rejected(ctx);
            return response.Error;
        }
    }

    /// <summary>Forwards the client's request as it is and streams the answer back (no storing).</summary>
    public async Task<(ForwarderError Error, int? UpstreamStatus)> PassAsync(HttpContext ctx, UpstreamRequest request, UpstreamTarget target, string fwd)
    {
        var canRetry = IsIdempotent(request.Method) && ctx.Request.ContentLength is null or 0 && !ctx.Request.Headers.ContainsKey("Transfer-Encoding");
        var retrying = false;
        PassTransformer? transformer = null;
        var error = await ExchangeAsync(target, request.Method, NewContext, SendAsync, c => canRetry && !c.Response.HasStarted, ctx.RequestAborted).ConfigureAwait(false);
        return (error, error == ForwarderError.None ? transformer?.UpstreamStatus : null);

        // Every attempt uses the client's own context; a retry starts from a clean response.
        HttpContext NewContext()
        {
            if (retrying)
            {
                ctx.Response.Clear();
                ctx.Features.Set<IForwarderErrorFeature>(null);
                ctx.Items.Remove(AbandonedItem);
            }

            retrying = true;
            return ctx;
        }

        async Task<ForwarderError> SendAsync(HttpContext c, DestinationState destination)
        {
            transformer = new PassTransformer(engine, request, target.HostPolicy, fwd, ToShields(target));
            var aborted = c.RequestAborted;
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(aborted);

            // The whole exchange is bounded (TransferTimeout), not only the pauses in it.
            deadline.CancelAfter(target.HostPolicy.TransferTimeout);
            c.RequestAborted = deadline.Token;
            try
            {
                var watch = canRetry ? DownWatch.For(destination, target, ToShields(target)) : null;
                var send = ForwardAsync(c, destination, target, transformer);
                // The shield's head has arrived once the client's response has started (the forwarder writes it first).
                if (watch is not null && await watch.MarkedDownBeforeAsync(send, () => c.Response.HasStarted).ConfigureAwait(false) && !c.Response.HasStarted)
                {
                    Abandon(c, destination, request.Method);
                    await deadline.CancelAsync().ConfigureAwait(false);
                }

                var error = await send.ConfigureAwait(false);
                return Abandoned(c) && !c.Response.HasStarted && !aborted.IsCancellationRequested ? ForwarderError.Request : error;
            }
            finally
            {
                c.RequestAborted = aborted;
            }
        }
    }

    /// <summary>
    /// The one retry loop of every upstream exchange. An attempt gets its context
    /// (<paramref name="newContext"/>), a destination from the cluster's load-balancing policy (not
    /// the one that just failed) and is sent (<paramref name="send"/>: <see cref="ForwarderError.None"/>
    /// once a response head arrived). A connection failure is retried once if <paramref name="mayRetry"/>
    /// says the request still can be, unless the exchange was cancelled; so is a response that did not
    /// come in time, except from a shield (see <see cref="Log.ShieldTimedOut"/>).
    /// </summary>
    private async Task<ForwarderError> ExchangeAsync(UpstreamTarget target, string method, Func<HttpContext> newContext, Func<HttpContext, DestinationState, Task<ForwarderError>> send, Func<HttpContext, bool> mayRetry, CancellationToken cancelled)
    {
        DestinationState? failed = null;
        var error = ForwarderError.NoAvailableDestinations;
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var ctx = newContext();
            ctx.Features.Set(new CacheKeyFeature(target.KeyHash));
            var destination = Pick(ctx, target, failed);
            if (destination is null) break;
            error = await send(ctx, destination).ConfigureAwait(false);
            if (!IsRetryable(error) || cancelled.IsCancellationRequested) return error;
            if (error == ForwarderError.RequestTimedOut && ToShields(target))
            {
                // The shield took the request and is still on it: most likely waiting for a slow
                // origin. Asking the next shield would fetch the object from the origin a second time.
                Log.ShieldTimedOut(logger, destination.DestinationId, method);
                return error;
            }

            var abandoned = Abandoned(ctx);
            if (!abandoned) Log.UpstreamFailed(logger, destination.DestinationId, error.ToString(), method);
            if (attempt == 1 || !mayRetry(ctx)) return error;
            Log.Retrying(logger, method, "next destination", abandoned ? "its shield was marked down" : error.ToString());
            engine.Upstream.CountRetry(shieldDown: abandoned);
            failed = destination;
        }

        return error;
    }

    /// <summary>
    /// Forwards one attempt, then tells the cluster's passive health policy, as YARP's passive health
    /// step does after its forwarder: the policy reads the <see cref="IForwarderErrorFeature"/> the
    /// forwarder set on <paramref name="ctx"/> (none when the exchange succeeded).
    /// </summary>
    private async Task<ForwarderError> ForwardAsync(HttpContext ctx, DestinationState destination, UpstreamTarget target, HttpTransformer transformer)
    {
        var cluster = target.Cluster.Model;
        var config = (cluster.Config.HttpRequest ?? ForwarderRequestConfig.Empty) with
        {
            ActivityTimeout = target.HostPolicy.ResponseTimeout,
        };
        ctx.Items[ConnectTimeoutItem] = target.HostPolicy.ConnectTimeout;
        if (ctx.Features.Get<IReverseProxyFeature>() is { } proxy) proxy.ProxiedDestination = destination;
        var error = await forwarder.SendAsync(ctx, destination.Model.Config.Address, cluster.HttpClient, config, transformer).ConfigureAwait(false);

        // A shield that is slow to answer is not a failed shield (its origin is slow, and every
        // shield would be): only what the transport says counts against it. A hung shield is the
        // active health check's to find (its probe has its own timeout).
        if (error != ForwarderError.RequestTimedOut || !ToShields(target)) target.PassiveHealth?.RequestProxied(ctx, target.Cluster, destination);
        return error;
    }

    /// <summary>An edge's requests to its shield cluster (<c>ShieldDiscovery:Cluster</c>), and a shield's to its peers
    /// (<c>Replication:Cluster</c>), carry the tier secret; nothing else does.</summary>
    private bool ToShields(UpstreamTarget target) =>
        engine.Options.Role == NodeRole.Edge
            ? string.Equals(target.Cluster.ClusterId, engine.Options.ShieldDiscovery.Cluster, StringComparison.OrdinalIgnoreCase)
            : engine.Options.Replication.Enabled && string.Equals(target.Cluster.ClusterId, engine.Options.Replication.Cluster, StringComparison.OrdinalIgnoreCase);

    internal const string ConnectTimeoutItem = "EdgeCache.ConnectTimeout";

    private const string AbandonedItem = "EdgeCache.AbandonedToShieldDown";

    private void Abandon(HttpContext ctx, DestinationState destination, string method)
    {
        ctx.Items[AbandonedItem] = true;
        engine.Upstream.CountAbandoned();
        Log.ShieldMarkedDown(logger, destination.DestinationId, method);
    }

    private static bool Abandoned(HttpContext ctx) => ctx.Items.ContainsKey(AbandonedItem);

    /// <summary>
    /// Watches, while an attempt waits for its response head, whether its shield's health checks mark it down. A
    /// shield cut off from the network (its packets dropped, not refused) has taken the request and will never
    /// answer; without this the request would wait out the host's <c>ResponseTimeout</c> (30 s by default, long for
    /// slow origins), and so would every client collapsed on it. A slow origin is told apart by the checks
    /// themselves: its shield's <c>/readyz</c> still answers, so it is not marked down, and its request is never
    /// given up (nor asked of a second shield, which would fetch from the origin again). The checks are read every
    /// quarter of the active check's interval (at least 10 ms, at most 1 s), or every 250 ms with passive checks only.
    /// </summary>
    private sealed class DownWatch(DestinationState destination, TimeSpan period)
    {
        /// <summary>A watch for an attempt to a shield that is not already held down (in panic, when every shield is,
        /// the request is sent to one anyway and waits for it) and has another to retry on; otherwise null.</summary>
        public static DownWatch? For(DestinationState destination, UpstreamTarget target, bool toShields)
        {
            if (!toShields || StatusPage.IsUnhealthy(destination) || target.Cluster.DestinationsState.AllDestinations.Count < 2) return null;
            var health = target.Cluster.Model.Config.HealthCheck;
            TimeSpan period;
            if (health?.Active is { Enabled: true } active)
            {
                var quarter = (active.Interval ?? TimeSpan.FromSeconds(15)) / 4;
                period = quarter < TimeSpan.FromMilliseconds(10) ? TimeSpan.FromMilliseconds(10) : quarter > TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : quarter;
            }
            else if (health?.Passive is { Enabled: true })
            {
                period = TimeSpan.FromMilliseconds(250);
            }
            else
            {
                return null;
            }

            return new DownWatch(destination, period);
        }

        /// <summary>True once the shield is marked down, if that comes before <paramref name="until"/> completes and
        /// before <paramref name="headArrived"/> (read at each check) says so.</summary>
        public async Task<bool> MarkedDownBeforeAsync(Task until, Func<bool>? headArrived = null)
        {
            while (!until.IsCompleted)
            {
                if (await Task.WhenAny(until, Task.Delay(period)).ConfigureAwait(false) == until) return false;
                if (headArrived?.Invoke() == true) return false;
                if (StatusPage.IsUnhealthy(destination)) return !until.IsCompleted;
            }

            return false;
        }
    }

    private async Task FinishAsync(Task<ForwarderError> send, UpstreamResponse response)
    {
        try
        {
            var error = await send.ConfigureAwait(false);
            if (error == ForwarderError.None)
            {
                response.Body.Complete();
            }
            else
            {
                var ex = new IOException($"Upstream response body failed: {error}.");
                Log.BodyFailed(logger, ex);
                response.Body.Fail(ex);
            }
        }
        catch (Exception ex)
        {
            Log.BodyFailed(logger, ex);
            response.Body.Fail(ex);
        }
        finally
        {
            response.StopDeadline();
        }
    }

    /// <summary>
    /// The destination for an attempt, from the cluster's load-balancing policy (the consistent-hash
    /// policy reads the key hash from the context's <see cref="CacheKeyFeature"/>). A retry skips the
    /// destination that failed and, if no other is available, tries any other the cluster has.
    /// </summary>
    private static DestinationState? Pick(HttpContext ctx, UpstreamTarget target, DestinationState? exclude)
    {
        var candidates = target.Destinations;
        if (exclude is not null)
        {
            var list = new List<DestinationState>(candidates.Count);
            foreach (var d in candidates)
            {
                if (!ReferenceEquals(d, exclude)) list.Add(d);
            }

            if (list.Count == 0)
            {
                foreach (var d in target.Cluster.DestinationsState.AllDestinations)
                {
                    if (!ReferenceEquals(d, exclude)) list.Add(d);
                }
            }

            candidates = list;
        }

        // As YARP's load-balancing step: the policy is asked only when there is a choice.
        return candidates.Count switch
        {
            0 => null,
            1 => candidates[0],
            _ => target.LoadBalancing.PickDestination(ctx, target.Cluster, candidates),
        };
    }

    private static bool IsRetryable(ForwarderError error) =>
        error is ForwarderError.Request or ForwarderError.RequestTimedOut or ForwarderError.NoAvailableDestinations;

    private static bool IsIdempotent(string method) =>
        HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method)
        || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method) || HttpMethods.IsTrace(method);

}
