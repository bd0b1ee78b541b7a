using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.RateLimiting;
using EdgeCache.Engine;
using EdgeCache.Nats;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeCache.PurgeApi;

/// <summary>
/// <c>POST /warm</c>: fetches URLs into the CDN before readers ask for them, and with <c>refresh</c> replaces
/// a page everywhere without a reader paying the miss. Each URL goes to a live edge (from membership) with
/// <c>EdgeCache-Warm</c> and the tier secret; the edge passes it to the shield its own consistent hash picks
/// for the key, the one every client miss for that URL goes to, where it joins any miss in flight and is
/// stored. With <c>edges: true</c> every live edge then fetches it too. A refresh fetches past the shield's
/// copy and stores the new one with a copy id, then publishes one purge of the refreshed URLs that spares
/// copies with that id (<see cref="InvalidationEvent.KeepCopy"/>): every older copy on every node is gone
/// once the purge is applied, and the next reader anywhere finds the new copy on the shield.
/// </summary>
public static partial class PurgeApiHost
{
    private static void AddWarming(IServiceCollection services) => services.AddSingleton<WarmFetcher>();

    private static void MapWarm(WebApplication app)
    {
        var limiters = new ConcurrentDictionary<string, TokenBucketRateLimiter>(StringComparer.Ordinal);
        app.MapPost("/warm", (Delegate)((HttpContext ctx) => WarmAsync(ctx, limiters)));
    }

    private static async Task<IResult> WarmAsync(HttpContext ctx, ConcurrentDictionary<string, TokenBucketRateLimiter> limiters)
    {
        var services = ctx.RequestServices;
        var options = services.GetRequiredService<IOptions<PurgeApiOptions>>().Value;
        var warm = options.Warm;
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("EdgeCache.PurgeApi");
        if (Authenticate(ctx, out var refusal) is not { } key) return refusal!;
        if (warm.TierSecret is null)
        {
            Log.Refused(logger, 503, "warming not configured", key.Id);
            return Results.Problem(statusCode: 503, title: "Warming not configured", detail: "This purge API has no PurgeApi:Warm:TierSecret, so the nodes would not trust its warming requests.");
        }

        var body = await ReadBodyAsync(ctx.Request, options.MaxBodyBytes, ctx.RequestAborted).ConfigureAwait(false);
        if (body is null)
        {
            Log.Refused(logger, 413, "body too large", key.Id);
            return Results.Problem(statusCode: 413, title: "Body too large", detail: $"The body may be at most {options.MaxBodyBytes} bytes.");
        }

        var (request, problem) = ParseWarm(body, key, options);
        if (request is null)
        {
            Log.Refused(logger, problem!.Status, problem.Title, key.Id);
            return Results.Problem(statusCode: problem.Status, title: problem.Title, detail: problem.Detail);
        }

        var urls = request.Urls!.Distinct(StringComparer.Ordinal).ToArray();
        var limiter = limiters.GetOrAdd(key.Id, _ => new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = warm.UrlBurst,
            TokensPerPeriod = warm.UrlsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
        using (var lease = limiter.AttemptAcquire(urls.Length))
        {
            if (!lease.IsAcquired)
            {
                var seconds = (int)Math.Ceiling((double)urls.Length / warm.UrlsPerSecond);
                ctx.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                Log.Refused(logger, 429, "warming rate", key.Id);
                return Results.Problem(statusCode: 429, title: "Too many URLs warmed", detail: $"This key may warm {warm.UrlsPerSecond} URLs per second (bursts of {warm.UrlBurst}); this call has {urls.Length}. Retry in {seconds} s.");
            }
        }

        var fetcher = services.GetRequiredService<WarmFetcher>();
        var edges = await LiveEdgesAsync(services, ctx.RequestAborted).ConfigureAwait(false);
        var refresh = request.Refresh ?? false;
        var copyId = refresh ? Guid.NewGuid().ToString("N") : null;
        var results = new WarmUrlResult[urls.Length];
        await ForEachAsync(urls.Length, warm.Concurrency, async i =>
        {
            results[i] = await fetcher.WarmShieldAsync(urls[i], edges, copyId, ctx.RequestAborted).ConfigureAwait(false);
        }).ConfigureAwait(false);

        PurgeStatus? purge = null;
        PurgeAccepted? accepted = null;
        var refreshed = results.Where(r => r.Outcome == WarmUrlResult.WarmedOutcome).Select(r => r.Url).ToArray();
        if (refresh && refreshed.Length > 0)
        {
            var id = Guid.NewGuid().ToString("N");
            var e = new InvalidationEvent
            {
                Id = id,
                Kind = InvalidationKind.Purge,
                Urls = refreshed,
                Scope = key.Hosts?.Order(StringComparer.Ordinal).ToArray(),
                KeepCopy = copyId,
                IssuedAt = DateTimeOffset.UtcNow,
                KeyId = key.Id,
            };
            var bus = services.GetRequiredService<InvalidationBus>();
            var publishedAt = TimeProvider.System.GetTimestamp();
            ulong seq;
            try
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
                cts.CancelAfter(options.Nats.RequestTimeout * 2);
                seq = await bus.PublishAsync(e, cts.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Log.NatsUnavailable(logger, ex.Message);
                return Results.Problem(statusCode: 503, title: "Invalidation stream unavailable", detail: "The new copies are on their shields, but the purge of the older ones could not be stored in NATS JetStream: older copies may still be served. Retry the refresh.");
            }

            Log.Accepted(logger, "refresh", id, key.Id, refreshed.Length, Summarize(e), false, seq);
            var live = services.GetRequiredService<MembershipView>().Live() ?? await bus.LiveNodesAsync(ctx.RequestAborted).ConfigureAwait(false);
            var record = services.GetRequiredService<PurgeTracker>().Track(id, seq, key.Id, live, publishedAt);
            if (request.Wait == true)
            {
                await WaitAsync(ctx, record, new PurgeRequest { TimeoutMs = request.TimeoutMs }, options).ConfigureAwait(false);
                purge = record.ToStatus();
            }
            else
            {
                accepted = new PurgeAccepted(id, seq);
            }
        }

        if (request.Edges == true)
        {
            // After a refresh's purge (waited for, when asked): an edge's fetch then finds the new copy on its shield.
            var warmed = results.Where(r => r.Outcome == WarmUrlResult.WarmedOutcome).ToArray();
            await ForEachAsync(warmed.Length, warm.Concurrency, async i =>
            {
                warmed[i].Edges = await fetcher.WarmEdgesAsync(warmed[i].Url, edges, ctx.RequestAborted).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }

        var ok = results.Count(r => r.Outcome == WarmUrlResult.WarmedOutcome);
        WarmLog.Warmed(logger, refresh ? "refresh" : "warm", key.Id, ok, results.Length - ok);
        var response = new WarmResponse(ok, results.Length - ok, results) { Purge = purge, PurgeAccepted = accepted };
        return Results.Json(response, WarmResponseJsonContext.Default.WarmResponse);
    }

    /// <summary>The live edges, from the membership watch (or the bucket while it catches up).</summary>
    private static async Task<List<NodeInfo>> LiveEdgesAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var live = services.GetRequiredService<MembershipView>().Live();
        if (live is null)
        {
            try
            {
                live = await services.GetRequiredService<InvalidationBus>().LiveNodesAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                live = [];
            }
        }

        return [.. live.Where(n => n.Role == "edge" && n.Traffic is not null).OrderBy(n => n.Node, StringComparer.Ordinal)];
    }

    private static async Task ForEachAsync(int count, int concurrency, Func<int, Task> body)
    {
        var next = -1;
        var workers = new Task[Math.Min(count, concurrency)];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count) await body(i).ConfigureAwait(false);
            });
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
    }

    internal static (WarmRequest? Request, RequestProblem? Problem) ParseWarm(ReadOnlySpan<byte> body, ApiKey key, PurgeApiOptions options)
    {
        if (body.IsEmpty) return (null, new RequestProblem(400, "Empty body", "The request needs a JSON object with urls: the absolute URLs to warm."));
        WarmRequest? r;
        try
        {
            r = JsonSerializer.Deserialize(body, WarmJsonContext.Default.WarmRequest);
        }
        catch (JsonException ex)
        {
            var where = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "" : $" at {ex.Path}";
            var what = ex.Message.Contains("could not be mapped", StringComparison.Ordinal) ? "Unknown field" : "Malformed JSON";
            return (null, new RequestProblem(400, what, $"{what}{where}: the body is {{\"urls\": [...], \"edges\": bool, \"refresh\": bool, \"wait\": bool, \"timeoutMs\": int}}."));
        }

        if (r is null) return (null, new RequestProblem(400, "Malformed JSON", "The body must be a JSON object."));
        var urls = r.Urls ?? [];
        if (urls.Length == 0) return (null, new RequestProblem(400, "No URL", "Give urls: at least one absolute http:// or https:// URL."));
        if (urls.Length > options.Warm.MaxUrls) return (null, new RequestProblem(413, "Too many URLs", $"The request has {urls.Length} URLs; at most {options.Warm.MaxUrls} are warmed per call (PurgeApi:Warm:MaxUrls)."));
        if (r.TimeoutMs is { } t && (t <= 0 || t > options.MaxWaitTimeout.TotalMilliseconds))
        {
            return (null, new RequestProblem(400, "Invalid timeoutMs", $"timeoutMs must be between 1 and {(long)options.MaxWaitTimeout.TotalMilliseconds}."));
        }

        if (r.Refresh != true && (r.Wait is not null || r.TimeoutMs is not null))
        {
            return (null, new RequestProblem(400, "Unknown field", "'wait' and 'timeoutMs' apply to a refresh (its purge of older copies); warming always answers once every URL is fetched."));
        }

        for (var i = 0; i < urls.Length; i++)
        {
            var u = urls[i];
            if (u is null || u.Length > 4096 || !Uri.TryCreate(u, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0 || uri.UserInfo.Length > 0 || uri.Fragment.Length > 0)
            {
                return (null, new RequestProblem(400, "Invalid URL", $"urls[{i}] must be an absolute http:// or https:// URL of at most 4096 characters, without user info or fragment."));
            }

            if (!key.Allows(uri.Host.ToLowerInvariant())) return (null, new RequestProblem(403, "Host not allowed", $"This key may not warm the host '{uri.Host}'."));
        }

        return (r, null);
    }
}

/// <summary>The body of <c>POST /warm</c>. Unknown fields are refused.</summary>
public sealed class WarmRequest
{
    /// <summary>Absolute URLs to warm (at most <see cref="WarmOptions.MaxUrls"/>; repeats are warmed once).</summary>
    public string[]? Urls { get; set; }

    /// <summary>Also fetch each URL into every live edge (after its shield has it).</summary>
    public bool? Edges { get; set; }

    /// <summary>Fetch past the shield's stored copy, then purge every older copy on every node.</summary>
    public bool? Refresh { get; set; }

    /// <summary>A refresh: wait until every live node has applied the purge of older copies.</summary>
    public bool? Wait { get; set; }

    public int? TimeoutMs { get; set; }
}

/// <summary>One URL's outcome: <c>warmed</c> (the owning shield holds it: <see cref="Cache"/> says whether it
/// was <c>stored</c> now, already a <c>hit</c>, or <c>collapsed</c> with a miss in flight) or <c>failed</c>
/// (<see cref="Status"/> and <see cref="Reason"/> say why).</summary>
public sealed record WarmUrlResult(string Url, string Outcome, int? Status, string? Cache, string? Reason, string? Via)
{
    public const string WarmedOutcome = "warmed";
    public const string FailedOutcome = "failed";

    /// <summary>With <c>edges: true</c>: each live edge's outcome.</summary>
    public WarmEdgeResult[]? Edges { get; set; }
}

/// <summary>One edge's outcome for one URL.</summary>
public sealed record WarmEdgeResult(string Node, string Outcome, int? Status, string? Reason);

/// <summary>The answer to <c>POST /warm</c>: counts, one result per distinct URL, and for a refresh its purge
/// (<see cref="Purge"/> when waited for, else <see cref="PurgeAccepted"/>).</summary>
public sealed record WarmResponse(int Warmed, int Failed, WarmUrlResult[] Results)
{
    public PurgeStatus? Purge { get; init; }

    public PurgeAccepted? PurgeAccepted { get; init; }
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow, MaxDepth = 4, DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
[System.Text.Json.Serialization.JsonSerializable(typeof(WarmRequest))]
internal sealed partial class WarmJsonContext : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>The answer's JSON (nested deeper than a request may be).</summary>
[System.Text.Json.Serialization.JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
[System.Text.Json.Serialization.JsonSerializable(typeof(WarmResponse))]
internal sealed partial class WarmResponseJsonContext : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>Warming's log messages (event ids 3100–3199).</summary>
internal static partial class WarmLog
{
    [LoggerMessage(EventIds.Warmed, LogLevel.Information, "AUDIT {Kind} by key {KeyId}: {Warmed} URL(s) warmed, {Failed} failed.")]
    public static partial void Warmed(ILogger logger, string kind, string keyId, int warmed, int failed);

    [LoggerMessage(EventIds.WarmFailed, LogLevel.Debug, "Warming {Url} through {Edge} failed: {Reason}")]
    public static partial void Failed(ILogger logger, string url, string edge, string reason);
}
