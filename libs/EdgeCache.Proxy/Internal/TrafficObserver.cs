using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using EdgeCache.Engine;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// Wraps every traffic request that goes through the ASP.NET Core pipeline and hands what it saw to
/// <see cref="TrafficRecorder"/> (the fast hit path records its hits there directly).
/// </summary>
internal sealed class TrafficObserver(RequestDelegate next, TrafficRecorder recorder)
{
    public async Task InvokeAsync(HttpContext ctx)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(ctx).ConfigureAwait(false);
        }
        finally
        {
            Observe(ctx, started);
            var request = ctx.Request;
            if (request.ContentLength is null or 0 && !request.Headers.ContainsKey(HeaderNames.TransferEncoding) && !request.Headers.ContainsKey(HeaderNames.Upgrade)
                && ctx.Features.Get<IConnectionItemsFeature>() is { } connection)
            {
                // No body left to read: Kestrel's next read on this connection starts the next request.
                FastHits.RequestEnded(connection.Items);
            }
        }
    }

    private void Observe(HttpContext ctx, long started)
    {
        var status = ctx.Response.Headers[HeaderRules.CacheStatus];
        var entry = status.Count > 0 ? status[^1] ?? "" : "";
        var request = ctx.Request;
        var length = ctx.Response.ContentLength;
        recorder.Record(request.Host.Host, recorder.IsHit(entry), length, HttpMethods.IsHead(request.Method));
        if (recorder.AccessLogEnabled)
        {
            var target = recorder.AccessLogQueries ? request.Path + request.QueryString : request.Path.ToString();
            recorder.Access(ctx.Connection.RemoteIpAddress?.ToString() ?? "-", request.Method, request.Host.Value ?? "-", target, request.Protocol,
                ctx.Response.StatusCode, length ?? -1, Stopwatch.GetElapsedTime(started).TotalMilliseconds, entry);
        }
    }
}

/// <summary>
/// Per-host (per-publisher) request, hit and byte counts, with at most
/// <see cref="EdgeCacheOptions.MetricsHostLimit"/> hosts getting their own series (the rest count as
/// "other"), and the optional access log. Query strings are logged only at Debug.
/// </summary>
internal sealed class TrafficRecorder
{
    private readonly CacheEngine _engine;
    private readonly ILogger _accessLog;
    private readonly Counter<long> _hostRequests;
    private readonly Counter<long> _hostBytes;
    private readonly ConcurrentDictionary<string, string> _hosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly string _hitMarker;
    private static readonly object Hit = true, NotHit = false;

    public TrafficRecorder(CacheEngine engine, ILoggerFactory loggers, IMeterFactory meters)
    {
        _engine = engine;
        _accessLog = loggers.CreateLogger("EdgeCache.AccessLog");
        var meter = meters.Create(CacheMetrics.MeterName);
        _hostRequests = meter.CreateCounter<long>("edgecache.host.requests", "{request}", "Requests per host, hit or not; hosts beyond EdgeCache:MetricsHostLimit count as \"other\".");
        _hostBytes = meter.CreateCounter<long>("edgecache.host.response.size", "By", "Response body bytes per host (responses with a known length).");
        _hitMarker = engine.Options.CacheName + "; hit";
    }

    public bool AccessLogEnabled => _engine.Options.AccessLog && _accessLog.IsEnabled(LogLevel.Information);

    /// <summary>True when the access log includes query strings (Debug).</summary>
    public bool AccessLogQueries => _accessLog.IsEnabled(LogLevel.Debug);

    /// <summary>True when this node's Cache-Status entry says hit.</summary>
    public bool IsHit(string cacheStatusEntry) => cacheStatusEntry.StartsWith(_hitMarker, StringComparison.Ordinal);

    /// <param name="host">The request's host, without port.</param>
    public void Record(string host, bool hit, long? length, bool isHead)
    {
        if (!_hostRequests.Enabled && !_hostBytes.Enabled) return;
        var series = HostSeries(host);
        if (_hostRequests.Enabled)
        {
            _hostRequests.Add(1, new KeyValuePair<string, object?>("edgecache.host", series), new KeyValuePair<string, object?>("edgecache.hit", hit ? Hit : NotHit));
        }

        if (_hostBytes.Enabled && length is > 0 && !isHead)
        {
            _hostBytes.Add(length.Value, new KeyValuePair<string, object?>("edgecache.host", series));
        }
    }

    public void Access(string client, string method, string host, string target, string protocol, int status, long bytes, double milliseconds, string cacheStatus) =>
        Log.Access(_accessLog, client, method, host, target, protocol, status, bytes, milliseconds, cacheStatus);

    private string HostSeries(string host)
    {
        if (_hosts.TryGetValue(host, out var series)) return series;
        if (_hosts.Count >= _engine.Options.MetricsHostLimit) return "other";
        var name = host.ToLowerInvariant();
        return _hosts.GetOrAdd(name, name);
    }
}
