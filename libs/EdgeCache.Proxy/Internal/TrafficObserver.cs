using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using EdgeCache.Engine;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// Wraps every traffic request: per-host (per-publisher) request, hit and byte counts, with at
/// most <see cref="EdgeCacheOptions.MetricsHostLimit"/> hosts getting their own series (the rest
/// count as "other"), and the optional access log. Query strings are logged only at Debug.
/// </summary>
internal sealed class TrafficObserver
{
    private readonly RequestDelegate _next;
    private readonly CacheEngine _engine;
    private readonly ILogger _accessLog;
    private readonly Counter<long> _hostRequests;
    private readonly Counter<long> _hostBytes;
    private readonly ConcurrentDictionary<string, string> _hosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly string _hitMarker;

    public TrafficObserver(RequestDelegate next, CacheEngine engine, ILoggerFactory loggers, IMeterFactory meters)
    {
        _next = next;
        _engine = engine;
        _accessLog = loggers.CreateLogger("EdgeCache.AccessLog");
        var meter = meters.Create(CacheMetrics.MeterName);
        _hostRequests = meter.CreateCounter<long>("edgecache.host.requests", "{request}", "Requests per host, hit or not; hosts beyond EdgeCache:MetricsHostLimit count as \"other\".");
        _hostBytes = meter.CreateCounter<long>("edgecache.host.response.size", "By", "Response body bytes per host (responses with a known length).");
        _hitMarker = engine.Options.CacheName + "; hit";
    }

    public async Task InvokeAsync(HttpContext ctx)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await _next(ctx).ConfigureAwait(false);
        }
        finally
        {
            Observe(ctx, started);
        }
    }

    private void Observe(HttpContext ctx, long started)
    {
        var status = ctx.Response.Headers[HeaderRules.CacheStatus];
        var entry = status.Count > 0 ? status[^1] ?? "" : "";
        var hit = entry.StartsWith(_hitMarker, StringComparison.Ordinal);
        var host = HostSeries(ctx.Request.Host.Host);
        var length = ctx.Response.ContentLength;
        if (_hostRequests.Enabled)
        {
            _hostRequests.Add(1, new KeyValuePair<string, object?>("edgecache.host", host), new KeyValuePair<string, object?>("edgecache.hit", hit));
        }

        if (_hostBytes.Enabled && length is > 0 && !HttpMethods.IsHead(ctx.Request.Method))
        {
            _hostBytes.Add(length.Value, new KeyValuePair<string, object?>("edgecache.host", host));
        }

        if (_engine.Options.AccessLog && _accessLog.IsEnabled(LogLevel.Information))
        {
            var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var target = _accessLog.IsEnabled(LogLevel.Debug) ? ctx.Request.Path + ctx.Request.QueryString : ctx.Request.Path.ToString();
            Log.Access(_accessLog, ctx.Connection.RemoteIpAddress?.ToString() ?? "-", ctx.Request.Method, ctx.Request.Host.Value ?? "-", target, ctx.Request.Protocol,
                ctx.Response.StatusCode, length ?? -1, ms, entry);
        }
    }

    private string HostSeries(string host)
    {
        if (_hosts.TryGetValue(host, out var series)) return series;
        if (_hosts.Count >= _engine.Options.MetricsHostLimit) return "other";
        var name = host.ToLowerInvariant();
        return _hosts.GetOrAdd(name, name);
    }
}
