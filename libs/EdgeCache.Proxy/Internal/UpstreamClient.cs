using EdgeCache.Engine;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// Sends requests upstream through YARP's forwarder. A connection failure marks the destination
/// unhealthy (passive health) and an idempotent request without a body is retried once on the next
/// destination the policy picks, so a dead shield costs at most the requests already sent to it.
/// </summary>
internal sealed class UpstreamClient(IHttpForwarder forwarder, IDestinationHealthUpdater health, CacheEngine engine, ILogger<UpstreamClient> logger)
{
    public static readonly HttpRequestOptionsKey<TimeSpan> ConnectTimeoutKey = new("EdgeCache.ConnectTimeout");

    /// <summary>Fetches for the cache; returns once the response head arrived (the body keeps streaming into it) or the fetch failed.</summary>
    public async Task<UpstreamResponse> FetchAsync(UpstreamRequest request, UpstreamTarget target, CachedResponse? validate, bool dropClientNoCache, bool background, CancellationToken cancellationToken, bool noCache = false)
    {
        DestinationState? failed = null;
        UpstreamResponse? last = null;
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var destination = Pick(target, failed, request);
            if (destination is null) break;
            var response = new UpstreamResponse();
            response.StartDeadline(target.HostPolicy.TransferTimeout);
            using var link = cancellationToken.Register(static r => ((UpstreamResponse)r!).Abort(), response);
            var ctx = CaptureContext.Create(request, response, response.Cancellation.Token);
            var transformer = new FetchTransformer(engine, request, response, validate, dropClientNoCache, background, noCache, ToShields(target));
            var send = SendAsync(ctx, destination, target, transformer);
            await Task.WhenAny(response.Head.Task, send).ConfigureAwait(false);
            if (response.Head.Task.IsCompleted)
            {
                _ = FinishAsync(send, response);
                return response;
            }

            var error = await send.ConfigureAwait(false);
            response.StopDeadline();
            response.Error = error == ForwarderError.None ? ForwarderError.ResponseHeaders : error;
            last = response;
            if (!IsRetryable(error) || cancellationToken.IsCancellationRequested) return response;
            ReportFailure(target, destination, error, request.Method);
            failed = destination;
            if (attempt == 0) Log.Retrying(logger, request.Method, "next destination", error.ToString());
        }

        return last ?? new UpstreamResponse { Error = ForwarderError.NoAvailableDestinations };
    }

    /// <summary>Forwards the client's request as it is and streams the answer back (no storing).</summary>
    public async Task<(ForwarderError Error, int? UpstreamStatus)> PassAsync(HttpContext ctx, UpstreamRequest request, UpstreamTarget target, string fwd)
    {
        DestinationState? failed = null;
        var error = ForwarderError.NoAvailableDestinations;
        var canRetry = IsIdempotent(request.Method) && ctx.Request.ContentLength is null or 0 && !ctx.Request.Headers.ContainsKey("Transfer-Encoding");
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var destination = Pick(target, failed, request);
            if (destination is null) break;
            var transformer = new PassTransformer(engine, request, fwd, ToShields(target));
            var aborted = ctx.RequestAborted;
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(aborted))
            {
                // The whole exchange is bounded (TransferTimeout), not only the pauses in it.
                deadline.CancelAfter(target.HostPolicy.TransferTimeout);
                ctx.RequestAborted = deadline.Token;
                try
                {
                    error = await SendAsync(ctx, destination, target, transformer).ConfigureAwait(false);
                }
                finally
                {
                    ctx.RequestAborted = aborted;
                }
            }

            if (error == ForwarderError.None) return (error, transformer.UpstreamStatus);
            if (!IsRetryable(error) || ctx.RequestAborted.IsCancellationRequested) return (error, null);
            ReportFailure(target, destination, error, request.Method);
            if (!canRetry || ctx.Response.HasStarted || attempt == 1) return (error, null);
            ctx.Response.Clear();
            ctx.Features.Set<IForwarderErrorFeature>(null);
            failed = destination;
        }

        return (error, null);
    }

    private Task<ForwarderError> SendAsync(HttpContext ctx, DestinationState destination, UpstreamTarget target, HttpTransformer transformer)
    {
        var cluster = target.Cluster.Model;
        var config = (cluster.Config.HttpRequest ?? ForwarderRequestConfig.Empty) with
        {
            ActivityTimeout = target.HostPolicy.ResponseTimeout,
        };
        ctx.Features.Set(new CacheKeyFeature(target.KeyHash));
        ctx.Items[ConnectTimeoutItem] = target.HostPolicy.ConnectTimeout;
        return forwarder.SendAsync(ctx, destination.Model.Config.Address, cluster.HttpClient, config, transformer).AsTask();
    }

    /// <summary>An edge's requests to its shield cluster (<c>ShieldDiscovery:Cluster</c>) carry the tier secret; nothing else does.</summary>
    private bool ToShields(UpstreamTarget target) =>
        engine.Options.Role == NodeRole.Edge && string.Equals(target.Cluster.ClusterId, engine.Options.ShieldDiscovery.Cluster, StringComparison.OrdinalIgnoreCase);

    internal const string ConnectTimeoutItem = "EdgeCache.ConnectTimeout";

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

    private static DestinationState? Pick(UpstreamTarget target, DestinationState? exclude, UpstreamRequest request)
    {
        var candidates = target.Destinations;
        if (exclude is not null)
        {
            var list = new List<DestinationState>(candidates.Count);
            foreach (var d in candidates)
            {
                if (!ReferenceEquals(d, exclude)) list.Add(d);
            }

            // After a failure, fall back on every destination the cluster has, healthy or not.
            if (list.Count == 0)
            {
                foreach (var d in target.Cluster.DestinationsState.AllDestinations)
                {
                    if (!ReferenceEquals(d, exclude)) list.Add(d);
                }
            }

            candidates = list;
        }

        if (candidates.Count == 0) return null;
        if (target.LoadBalancing is ConsistentHashLoadBalancingPolicy)
        {
            return ConsistentHashLoadBalancingPolicy.Pick(target.KeyHash, candidates, null);
        }

        var ctx = new DefaultHttpContext();
        ctx.Request.Host = request.Host;
        ctx.Request.Path = request.Path;
        return target.LoadBalancing.PickDestination(ctx, target.Cluster, candidates);
    }

    private void ReportFailure(UpstreamTarget target, DestinationState destination, ForwarderError error, string method)
    {
        var passive = target.Cluster.Model.Config.HealthCheck?.Passive;
        var period = passive?.ReactivationPeriod ?? TimeSpan.FromSeconds(5);
        Log.UpstreamFailed(logger, destination.DestinationId, error.ToString(), method, period);
        if (passive?.Enabled == true)
        {
            health.SetPassive(target.Cluster, destination, DestinationHealth.Unhealthy, period);
        }
    }

    private static bool IsRetryable(ForwarderError error) =>
        error is ForwarderError.Request or ForwarderError.RequestTimedOut or ForwarderError.NoAvailableDestinations;

    private static bool IsIdempotent(string method) =>
        HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method)
        || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method) || HttpMethods.IsTrace(method);

}
