using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>One request as the origin saw it.</summary>
public sealed record OriginRequest(string Method, string PathAndQuery, IReadOnlyDictionary<string, string> Headers);

/// <summary>
/// A real Kestrel origin on loopback. Tests register a handler per path and read back every
/// request that reached it. Date headers come from the shared fake clock, like a real origin
/// whose clock agrees with the caches'.
/// </summary>
public sealed class TestOrigin : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Func<HttpContext, Task>> _handlers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentQueue<OriginRequest>> _seen = new(StringComparer.Ordinal);
    private readonly TimeProvider _clock;
    private WebApplication _app = null!;
    private long _total;

    private TestOrigin(TimeProvider clock) => _clock = clock;

    public Uri Uri { get; private set; } = null!;

    public long TotalRequests => Interlocked.Read(ref _total);

    /// <param name="certificate">Serve HTTPS with this certificate (and its key) instead of plain HTTP.</param>
    public static async Task<TestOrigin> StartAsync(TimeProvider clock, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate = null)
    {
        var origin = new TestOrigin(clock);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        if (certificate is null)
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        }
        else
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, lo => lo.UseHttps(certificate)));
        }

        builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
        origin._app = builder.Build();
        origin._app.Run(origin.HandleAsync);
        await origin._app.StartAsync();
        var address = origin._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        origin.Uri = new Uri(address);
        return origin;
    }

    /// <summary>Serves <paramref name="path"/> (path without query) with <paramref name="handler"/>.</summary>
    public void Map(string path, Func<HttpContext, Task> handler) => _handlers[path] = handler;

    /// <summary>Serves a fixed response: status, headers and body.</summary>
    public void MapStatic(string path, string body, params (string Name, string Value)[] headers) =>
        Map(path, ctx =>
        {
            foreach (var (name, value) in headers) ctx.Response.Headers.Append(name, value);
            return ctx.Response.WriteAsync(body);
        });

    /// <summary>
    /// Serves a page with absolute links built from the request the way frameworks behind proxies
    /// build them (ASP.NET Core's ForwardedHeaders, Django's USE_X_FORWARDED_HOST and
    /// SECURE_PROXY_SSL_HEADER, Rails' request.base_url): see <see cref="ForwardedView"/>. With
    /// <paramref name="requireHttps"/>, a request that looks like plain http is redirected (301) to https.
    /// </summary>
    public void MapLinks(string path, bool requireHttps = false, string cacheControl = "max-age=600") =>
        Map(path, ctx =>
        {
            var (scheme, host, prefix, method) = ForwardedView(ctx.Request);
            ctx.Response.Headers.CacheControl = cacheControl;
            if (requireHttps && scheme != "https")
            {
                ctx.Response.StatusCode = StatusCodes.Status301MovedPermanently;
                ctx.Response.Headers.Location = "https://" + host + prefix + path;
                return Task.CompletedTask;
            }

            return ctx.Response.WriteAsync($"<script src=\"{scheme}://{host}{prefix}/static/app.js\"></script> {method}");
        });

    /// <summary>The scheme, host, path prefix and method a forwarding-aware framework believes the
    /// client used: <c>Forwarded</c> first, then the X-Forwarded family and its vendor variants.</summary>
    public static (string Scheme, string Host, string Prefix, string Method) ForwardedView(HttpRequest request)
    {
        var h = request.Headers;
        string scheme = request.Scheme, host = request.Host.Value ?? "", prefix = "", method = request.Method;
        foreach (var element in h["Forwarded"].ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).TakeLast(1))
        {
            foreach (var pair in element.Split(';', StringSplitOptions.TrimEntries))
            {
                var eq = pair.IndexOf('=');
                if (eq <= 0) continue;
                var value = pair[(eq + 1)..].Trim('"');
                switch (pair[..eq].ToLowerInvariant())
                {
                    case "host": host = value; break;
                    case "proto": scheme = value; break;
                }
            }
        }

        if (h["X-Forwarded-Proto"].LastOrDefault() is { Length: > 0 } proto) scheme = proto;
        if (h["X-Forwarded-Ssl"].ToString() == "on" || h["Front-End-Https"].ToString() == "on") scheme = "https";
        if (h["X-Url-Scheme"].LastOrDefault() is { Length: > 0 } urlScheme) scheme = urlScheme;
        if (h["X-Forwarded-Host"].LastOrDefault() is { Length: > 0 } fh) host = fh;
        if (h["X-Forwarded-Prefix"].LastOrDefault() is { Length: > 0 } p) prefix = p;
        if (h["X-Original-Method"].LastOrDefault() is { Length: > 0 } m) method = m;
        if (h["X-Forwarded-Uri"].LastOrDefault() is { Length: > 0 } uri) prefix += uri;
        return (scheme, host, prefix, method);
    }

    public IReadOnlyList<OriginRequest> Requests(string path) =>
        _seen.TryGetValue(path, out var q) ? [.. q] : [];

    public int Count(string path) => Requests(path).Count;

    public DateTimeOffset Now => _clock.GetUtcNow();

    private async Task HandleAsync(HttpContext ctx)
    {
        var path = ctx.Request.Path.Value ?? "/";
        var headers = ctx.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        _seen.GetOrAdd(path, _ => new ConcurrentQueue<OriginRequest>()).Enqueue(new OriginRequest(ctx.Request.Method, path + ctx.Request.QueryString, headers));
        Interlocked.Increment(ref _total);
        ctx.Response.Headers.Date = HeaderUtilities.FormatDate(_clock.GetUtcNow());
        if (_handlers.TryGetValue(path, out var handler))
        {
            await handler(ctx);
            return;
        }

        ctx.Response.StatusCode = StatusCodes.Status404NotFound;
        await ctx.Response.WriteAsync("no handler for " + path);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
