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

    public static async Task<TestOrigin> StartAsync(TimeProvider clock)
    {
        var origin = new TestOrigin(clock);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
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
