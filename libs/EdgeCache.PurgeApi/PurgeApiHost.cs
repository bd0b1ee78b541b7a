using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Threading.RateLimiting;
using EdgeCache.Engine;
using EdgeCache.Hosting;
using EdgeCache.Nats;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeCache.PurgeApi;

/// <summary>Builds the purge API host: <c>POST /purge</c>, <c>POST /ttl</c>, <c>GET /purge/{id}</c>,
/// <c>/openapi.json</c>, <c>/healthz</c> and <c>/readyz</c>.</summary>
public static partial class PurgeApiHost
{
    public const string ConfigFileVariable = "EDGECACHE_CONFIG_FILE";

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (Environment.GetEnvironmentVariable(ConfigFileVariable) is { Length: > 0 } file)
        {
            builder.Configuration.AddReloadableJsonFile(file);
            builder.Configuration.AddCommandLine(args);
        }

        // ASP.NET Core's own request logging (request start and end, endpoint, result: six Information
        // events per purge) is off, as on the nodes: every accepted purge has its AUDIT line, refusals
        // theirs, and the per-request formatting and log writes sat on the purge's round trip.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        builder.Logging.AddFilter("Microsoft.AspNetCore.Routing", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore.Http.Result", LogLevel.Warning);
        configure?.Invoke(builder);
        var services = builder.Services;
        services.AddOptions<PurgeApiOptions>().Bind(builder.Configuration.GetSection(PurgeApiOptions.SectionName)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<PurgeApiOptions>, Validator>();
        services.AddSingleton(sp => new ApiKeys(sp.GetRequiredService<IOptions<PurgeApiOptions>>().Value.Keys));
        services.AddSingleton(sp => new PurgeTracker(sp.GetRequiredService<IOptions<PurgeApiOptions>>().Value));
        services.AddSingleton(sp => new IdempotencyStore(sp.GetRequiredService<IOptions<PurgeApiOptions>>().Value, TimeProvider.System));
        services.AddSingleton(sp => new InvalidationBus(sp.GetRequiredService<IOptions<PurgeApiOptions>>().Value.Nats, "purge-api"));
        services.AddSingleton(sp => new AuthFailureLimiter(sp.GetRequiredService<IOptions<PurgeApiOptions>>().Value, sp.GetRequiredService<ILoggerFactory>().CreateLogger("EdgeCache.PurgeApi")));
        services.AddSingleton<KeyReloader>();
        services.AddHostedService(sp => sp.GetRequiredService<KeyReloader>());
        services.AddSingleton<AckListener>();
        services.AddHostedService(sp => sp.GetRequiredService<AckListener>());
        services.AddSingleton<MembershipView>();
        services.AddHostedService(sp => sp.GetRequiredService<MembershipView>());
        services.AddEventFeed();
        services.AddProblemDetails();
        AddWarming(services);

        var listen = builder.Configuration.GetValue<string>(PurgeApiOptions.SectionName + ":Listen") ?? new PurgeApiOptions().Listen;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            if (Uri.TryCreate(listen, UriKind.Absolute, out var uri))
            {
                var ip = uri.Host == "localhost" ? IPAddress.Loopback : IPAddress.TryParse(uri.Host.Trim('[', ']'), out var a) ? a : IPAddress.Loopback;
                k.Listen(ip, uri.Port);
            }
        });

        var app = builder.Build();
        Map(app);
        return app;
    }

    private static void Map(WebApplication app)
    {
        var limiters = new ConcurrentDictionary<string, TokenBucketRateLimiter>(StringComparer.Ordinal);
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", (AckListener listener) => listener.Ready
            ? Results.Text("ready\n")
            : Results.Text("not ready: " + (listener.LastError ?? "connecting to NATS") + "\n", statusCode: 503));
        app.MapGet("/openapi.json", () => Results.Text(OpenApi.Document, "application/json"));
        app.MapEventFeed();
        app.MapPost("/purge", (Delegate)((HttpContext ctx) => AcceptAsync(ctx, InvalidationKind.Purge, limiters)));
        app.MapPost("/ttl", (Delegate)((HttpContext ctx) => AcceptAsync(ctx, InvalidationKind.Ttl, limiters)));
        MapWarm(app);
        app.MapGet("/purge/{id}", (HttpContext ctx, string id, PurgeTracker tracker) =>
        {
            if (Authenticate(ctx, out var refusal) is not { } key) return refusal!;
            ctx.RequestServices.GetRequiredService<InstanceRegistry>().Sweep();
            var record = tracker.Find(id);
            if (record is null || (record.KeyId != key.Id && key.Hosts is not null))
            {
                return Results.Problem(statusCode: 404, title: "Unknown purge", detail: $"No purge '{id}' is known to this API instance for this key (the latest {tracker.Limit} are kept).");
            }

            return Results.Json(record.ToStatus(), PurgeJsonContext.Default.PurgeStatus);
        });
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var o = app.Services.GetRequiredService<IOptions<PurgeApiOptions>>().Value;
            Log.Listening(app.Logger, string.Join(", ", app.Urls), o.Keys.Count);
        });
    }

    /// <summary>The request's key, or null and the refusal: 401 for a missing or wrong key, 429 for an
    /// address that has failed too often (<see cref="AuthFailureLimiter"/>).</summary>
    internal static ApiKey? Authenticate(HttpContext ctx, out IResult? refusal)
    {
        var services = ctx.RequestServices;
        var limiter = services.GetRequiredService<AuthFailureLimiter>();
        var peer = ctx.Connection.RemoteIpAddress;
        refusal = null;
        if (!limiter.IsLimited(peer) && services.GetRequiredService<ApiKeys>().Authenticate(ctx.Request.Headers.Authorization) is { } key) return key;
        refusal = limiter.IsLimited(peer) || limiter.RecordFailure(peer) ? TooManyFailures(ctx, limiter) : Unauthorized(ctx);
        return null;
    }

    private static IResult TooManyFailures(HttpContext ctx, AuthFailureLimiter limiter)
    {
        ctx.Response.Headers.RetryAfter = limiter.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Results.Problem(statusCode: 429, title: "Too many failed authentications", detail: $"This address sent too many wrong keys; retry in {limiter.RetryAfterSeconds} s.");
    }

    private static IResult Unauthorized(HttpContext ctx)
    {
        ctx.Response.Headers.WWWAuthenticate = "Bearer";
        return Results.Problem(statusCode: 401, title: "Unauthorized", detail: "Send a purge key as 'Authorization: Bearer <key>'.");
    }

    private static async Task<IResult> AcceptAsync(HttpContext ctx, InvalidationKind kind, ConcurrentDictionary<string, TokenBucketRateLimiter> limiters)
    {
        ctx.Items[StartedKey] = TimeProvider.System.GetTimestamp();
        var services = ctx.RequestServices;
        var options = services.GetRequiredService<IOptions<PurgeApiOptions>>().Value;
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("EdgeCache.PurgeApi");
        if (Authenticate(ctx, out var refusal) is not { } key) return refusal!;

        var rate = key.RatePerSecond ?? options.RatePerSecond;
        var burst = key.RateBurst ?? options.RateBurst;
        var limiter = limiters.GetOrAdd($"{key.Id}/{rate}/{burst}", _ => new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = rate,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
        using var lease = limiter.AttemptAcquire();
        if (!lease.IsAcquired)
        {
            ctx.Response.Headers.RetryAfter = "1";
            Log.Refused(logger, 429, "rate limited", key.Id);
            return Results.Problem(statusCode: 429, title: "Too many requests", detail: $"This key may make {rate} requests per second (bursts of {burst}).");
        }

        string? idempotencyKey = null;
        if (ctx.Request.Headers.TryGetValue(IdempotencyKeyHeader, out var idempotencyValues) && !TryParseIdempotencyKey(idempotencyValues, out idempotencyKey))
        {
            Log.Refused(logger, 400, "invalid Idempotency-Key", key.Id);
            return Results.Problem(statusCode: 400, title: "Invalid Idempotency-Key", detail: $"Idempotency-Key must be sent once, 1 to {MaxIdempotencyKeyLength} visible ASCII characters (optionally as a quoted string).");
        }

        var body = await ReadBodyAsync(ctx.Request, options.MaxBodyBytes, ctx.RequestAborted).ConfigureAwait(false);
        if (body is null)
        {
            Log.Refused(logger, 413, "body too large", key.Id);
            return Results.Problem(statusCode: 413, title: "Body too large", detail: $"The body may be at most {options.MaxBodyBytes} bytes.");
        }

        var (request, parseProblem) = PurgeRequestParser.Parse(body);
        IdempotencyStore.Entry? entry = null;
        if (idempotencyKey is not null)
        {
            var store = services.GetRequiredService<IdempotencyStore>();
            var (outcome, found) = store.Begin(key.Id, idempotencyKey, IdempotencyStore.Fingerprint(kind, body));
            switch (outcome)
            {
                case IdempotencyOutcome.Mismatch:
                    Log.Refused(logger, 422, "Idempotency-Key reused for another request", key.Id);
                    return Results.Problem(statusCode: 422, title: "Idempotency-Key reused", detail: $"This Idempotency-Key was used within the last {options.IdempotencyWindow} for a different request; send a new key for a new request.");
                case IdempotencyOutcome.InFlight:
                    ctx.Response.Headers.RetryAfter = "1";
                    Log.Refused(logger, 409, "Idempotency-Key in flight", key.Id);
                    return Results.Problem(statusCode: 409, title: "Request in progress", detail: "The first request with this Idempotency-Key is still being published; retry in a second for its result.");
                case IdempotencyOutcome.Replay:
                    return await ReplayAsync(ctx, kind, key, found.Response!, request!, options, logger).ConfigureAwait(false);
                default:
                    entry = found;
                    break;
            }
        }

        try
        {
            return await PublishAsync(ctx, kind, key, request, parseProblem, entry, options, logger).ConfigureAwait(false);
        }
        finally
        {
            // Only a published request is remembered: a refusal's retry is a new request.
            if (entry is { Response: null }) services.GetRequiredService<IdempotencyStore>().Abandon(entry);
        }
    }

    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary>Set to <c>true</c> on an answer replayed for a repeated <c>Idempotency-Key</c>.</summary>
    public const string IdempotentReplayedHeader = "Idempotent-Replayed";

    public const int MaxIdempotencyKeyLength = 255;

    /// <summary>One value of 1 to 255 visible ASCII characters; the draft's quoted sf-string form
    /// (<c>"abc"</c>) is the same key as <c>abc</c>.</summary>
    internal static bool TryParseIdempotencyKey(Microsoft.Extensions.Primitives.StringValues values, out string? key)
    {
        key = null;
        if (values.Count != 1 || values[0] is not { } v) return false;
        if (v.Length >= 2 && v[0] == '"' && v[^1] == '"') v = v[1..^1];
        if (v.Length is 0 or > MaxIdempotencyKeyLength) return false;
        foreach (var c in v)
        {
            if (c is < '!' or > '~') return false;
        }

        key = v;
        return true;
    }

    private static async Task<IResult> PublishAsync(HttpContext ctx, InvalidationKind kind, ApiKey key, PurgeRequest? request, RequestProblem? parseProblem, IdempotencyStore.Entry? entry, PurgeApiOptions options, ILogger logger)
    {
        var services = ctx.RequestServices;
        var id = Guid.NewGuid().ToString("N");
        var (e, problem) = request is null ? (null, parseProblem) : PurgeRequestParser.Validate(request, kind, key, options, id, DateTimeOffset.UtcNow);
        if (e is null)
        {
            Log.Refused(logger, problem!.Status, problem.Title, key.Id);
            return Results.Problem(statusCode: problem.Status, title: problem.Title, detail: problem.Detail);
        }

        // Before the API follows the nodes' acknowledgements (just started, or NATS lost), a purge could be
        // published but its acks would go unheard: a waited purge hung until its timeout. A valid request is
        // refused at once instead (an invalid one still gets its 4xx).
        if (!services.GetRequiredService<AckListener>().Ready)
        {
            ctx.Response.Headers.RetryAfter = "1";
            Log.Refused(logger, 503, "not ready", key.Id);
            return Results.Problem(statusCode: 503, title: "Purge API not ready", detail: "It is still connecting to NATS JetStream or subscribing to the nodes' acknowledgements (see /readyz); nothing was published. Retry in a second.");
        }

        var bus = services.GetRequiredService<InvalidationBus>();
        var publishedAt = TimeProvider.System.GetTimestamp();
        ulong seq;
        try
        {
            // With an Idempotency-Key, a client that goes away mid-publish does not cancel it: its retry
            // must find the event it caused remembered, not publish a second one.
            using var cts = entry is null ? CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted) : new CancellationTokenSource();
            cts.CancelAfter(options.Nats.RequestTimeout * 2);
            seq = await bus.PublishAsync(e, cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.NatsUnavailable(logger, ex.Message);
            return Results.Problem(statusCode: 503, title: "Invalidation stream unavailable", detail: "The purge was not accepted: the event could not be stored in NATS JetStream. Retry later.");
        }

        var publishMs = TimeProvider.System.GetElapsedTime(publishedAt).TotalMilliseconds;
        Log.Accepted(logger, kind == InvalidationKind.Ttl ? "ttl" : "purge", id, key.Id, e.SelectorCount, Summarize(e), e.Soft, seq);
        var tracker = services.GetRequiredService<PurgeTracker>();
        var membership = services.GetRequiredService<MembershipView>();
        // Who must apply it. While membership cannot be read (the API's NATS server just died, the
        // bucket's leader is being elected), it is read again until the wait would end: an empty set
        // would report the purge complete with no node having applied it. Still unknown then, the purge
        // waits on a placeholder node and is reported incomplete.
        var readFor = request!.Wait == true
            ? (request.TimeoutMs is { } waitMs ? TimeSpan.FromMilliseconds(waitMs) : options.DefaultWaitTimeout)
            : options.Nats.RequestTimeout;
        var live = await LiveAtPublicationAsync(membership, bus, readFor, options.MembershipPollInterval, ctx.RequestAborted).ConfigureAwait(false);
        if (live is null) Log.MembershipUnknown(logger, id, seq);
        var record = tracker.Track(id, seq, key.Id, live ?? [], publishedAt, services.GetRequiredService<InstanceRegistry>().Live(key.Id), membershipUnknown: live is null);
        var store = services.GetRequiredService<IdempotencyStore>();
        if (request!.Wait != true)
        {
            ctx.Response.Headers["Server-Timing"] = ServerTiming(ctx, publishMs, null);
            var accepted = JsonSerializer.SerializeToUtf8Bytes(new PurgeAccepted(id, seq), PurgeJsonContext.Default.PurgeAccepted);
            if (entry is not null) store.Complete(entry, new RememberedResponse(202, id, accepted));
            return new JsonBytesResult(202, accepted);
        }

        // Remembered before the wait: a retry while this one waits waits on the same purge (no 409).
        if (entry is not null) store.Complete(entry, new RememberedResponse(200, id, JsonSerializer.SerializeToUtf8Bytes(record.ToStatus(), PurgeJsonContext.Default.PurgeStatus)));
        var waitStarted = TimeProvider.System.GetTimestamp();
        await WaitAsync(ctx, record, request, options).ConfigureAwait(false);
        ctx.Response.Headers["Server-Timing"] = ServerTiming(ctx, publishMs, TimeProvider.System.GetElapsedTime(waitStarted).TotalMilliseconds);
        return Results.Json(record.ToStatus(), PurgeJsonContext.Default.PurgeStatus);
    }

    /// <summary>Where an accepted purge's time went (W3C Server Timing, which browsers'
    /// developer tools and curl show): the JetStream publication until its acknowledgement, and the wait for the nodes'.</summary>
    internal static string ServerTiming(HttpContext ctx, double publishMs, double? waitMs)
    {
        var total = ctx.Items[StartedKey] is long started ? TimeProvider.System.GetElapsedTime(started).TotalMilliseconds : 0;
        return waitMs is { } w
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"publish;dur={publishMs:0.###}, wait;dur={w:0.###}, total;dur={total:0.###}")
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"publish;dur={publishMs:0.###}, total;dur={total:0.###}");
    }

    private static readonly object StartedKey = new();

    /// <summary>JSON already serialized (so a replay answers the very bytes the first call got).</summary>
    private sealed class JsonBytesResult(int status, byte[] body) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = status;
            httpContext.Response.ContentType = "application/json; charset=utf-8";
            httpContext.Response.ContentLength = body.Length;
            return httpContext.Response.Body.WriteAsync(body).AsTask();
        }
    }

    /// <summary>The answer to a repeated Idempotency-Key: the first call's status and purge. A waited purge
    /// answers with its progress now, waiting again (up to this request's timeout) while it is incomplete;
    /// once <see cref="PurgeTracker"/> has forgotten it, the first answer's body as it was.</summary>
    private static async Task<IResult> ReplayAsync(HttpContext ctx, InvalidationKind kind, ApiKey key, RememberedResponse first, PurgeRequest request, PurgeApiOptions options, ILogger logger)
    {
        ctx.Response.Headers[IdempotentReplayedHeader] = "true";
        Log.Replayed(logger, kind == InvalidationKind.Ttl ? "ttl" : "purge", first.PurgeId, key.Id);
        if (first.Status != 200 || ctx.RequestServices.GetRequiredService<PurgeTracker>().Find(first.PurgeId) is not { } record)
        {
            return new JsonBytesResult(first.Status, first.Body);
        }

        await WaitAsync(ctx, record, request, options).ConfigureAwait(false);
        return Results.Json(record.ToStatus(), PurgeJsonContext.Default.PurgeStatus);
    }

    /// <summary>The live nodes, read again every <paramref name="poll"/> while membership cannot be read (or a
    /// reading of the bucket cannot be trusted, <see cref="MembershipView.Trust"/>), for at most
    /// <paramref name="limit"/>; null when it could not be read within it.</summary>
    private static async Task<List<NodeInfo>?> LiveAtPublicationAsync(MembershipView membership, InvalidationBus bus, TimeSpan limit, TimeSpan poll, CancellationToken cancellationToken)
    {
        var started = TimeProvider.System.GetTimestamp();
        while (true)
        {
            if (membership.Live() is { } view) return view;
            try
            {
                var read = await bus.LiveNodesAsync(cancellationToken).ConfigureAwait(false);
                if (membership.Trust(read)) return read;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
            }

            if (TimeProvider.System.GetElapsedTime(started) >= limit) return null;

            try
            {
                await Task.Delay(poll, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }
    }

    /// <summary>Waits until every node live at publication applied <paramref name="record"/>, the request's
    /// timeout passes, or the client goes away.</summary>
    private static async Task WaitAsync(HttpContext ctx, PurgeTracker.Record record, PurgeRequest request, PurgeApiOptions options)
    {
        var services = ctx.RequestServices;
        var bus = services.GetRequiredService<InvalidationBus>();
        var tracker = services.GetRequiredService<PurgeTracker>();
        var membership = services.GetRequiredService<MembershipView>();
        var timeout = request.TimeoutMs is { } ms ? TimeSpan.FromMilliseconds(ms) : options.DefaultWaitTimeout;
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
        wait.CancelAfter(timeout);
        try
        {
            while (!record.Complete)
            {
                // Acknowledgements complete it; membership covers acknowledgements this process missed
                // (the membership watch reports each node's applied sequence as it is put; without the
                // watch, the bucket is read every MembershipPollInterval).
                var poll = Task.Delay(options.MembershipPollInterval, wait.Token);
                await Task.WhenAny(record.Completed, poll).ConfigureAwait(false);
                if (record.Complete || wait.IsCancellationRequested) break;
                services.GetRequiredService<InstanceRegistry>().Sweep(); // instances whose lease ended drop out
                if (membership.Live() is not null) continue;
                try
                {
                    foreach (var n in await bus.LiveNodesAsync(wait.Token).ConfigureAwait(false)) tracker.Observe(n.Node, n.AppliedSeq);
                }
                catch (Exception ex) when (ex is TimeoutException or NATS.Client.Core.NatsException)
                {
                    // Membership unreadable this time: acknowledgements still complete the purge; read again at the next poll.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The body, or null when it exceeds <paramref name="max"/> bytes.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, int max, CancellationToken cancellationToken)
    {
        if (request.ContentLength > max) return null;
        var buffer = new byte[Math.Min(max + 1, (int)(request.ContentLength ?? 4096) + 1)];
        var total = 0;
        while (true)
        {
            if (total == buffer.Length)
            {
                if (buffer.Length > max) return null;
                Array.Resize(ref buffer, Math.Min(max + 1, buffer.Length * 2));
            }

            var n = await request.Body.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false);
            if (n == 0) break;
            total += n;
            if (total > max) return null;
        }

        return buffer[..total];
    }

    /// <summary>The selectors for the audit line: URLs without their query strings.</summary>
    private static string Summarize(InvalidationEvent e)
    {
        static string NoQuery(string u) => u.IndexOf('?') is var q and >= 0 ? u[..q] + "?…" : u;
        var parts = new List<string>();
        if (e.All) parts.Add("all");
        if (e.Urls.Length > 0) parts.Add("urls=" + string.Join(' ', e.Urls.Take(5).Select(NoQuery)) + (e.Urls.Length > 5 ? " …" : ""));
        if (e.Prefixes.Length > 0) parts.Add("prefixes=" + string.Join(' ', e.Prefixes.Take(5).Select(NoQuery)) + (e.Prefixes.Length > 5 ? " …" : ""));
        if (e.Tags.Length > 0) parts.Add("tags=" + string.Join(' ', e.Tags.Take(5)) + (e.Tags.Length > 5 ? " …" : ""));
        if (e.Hosts.Length > 0) parts.Add("hosts=" + string.Join(' ', e.Hosts.Take(5)) + (e.Hosts.Length > 5 ? " …" : ""));
        if (e.MaxAge is { } m) parts.Add("maxAge=" + m);
        return string.Join("; ", parts);
    }

    private sealed class Validator : IValidateOptions<PurgeApiOptions>
    {
        public ValidateOptionsResult Validate(string? name, PurgeApiOptions options)
        {
            var errors = options.Validate().ToList();
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}

/// <summary>Connects to NATS, ensures the stream and bucket, and follows the nodes' acknowledgements.</summary>
public sealed class AckListener(InvalidationBus bus, PurgeTracker tracker, ILogger<AckListener> logger) : BackgroundService
{
    public bool Ready { get; private set; }

    public string? LastError { get; private set; }

    /// <summary>The name the warm-up acknowledgement carries (never a node's: node ids are configured names).</summary>
    public const string WarmUpNode = "purge-api-warm-up";

    /// <summary>Ready once the acknowledgement subscription is live and the publish path has run once
    /// (<see cref="InvalidationBus.WarmUpAsync"/>); a warm-up that fails leaves the first purge slower, no more.</summary>
    private async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(bus.Options.RequestTimeout);
            await bus.WarmUpAsync(WarmUpNode, cts.Token).ConfigureAwait(false);
            _ = PurgeRequestParser.Parse("{\"urls\":[\"http://warm-up.invalid/\"],\"wait\":true}"u8);
            _ = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new PurgeStatus("warm-up", 0, true, [new NodeAckTime(WarmUpNode, 1)], []), PurgeJsonContext.Default.PurgeStatus);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.NatsUnavailable(logger, "warm-up: " + ex.Message);
        }

        Ready = true;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await bus.EnsureAsync(stoppingToken).ConfigureAwait(false);
                LastError = null;
                await foreach (var ack in bus.AcksAsync(() => _ = WarmUpAsync(stoppingToken), stoppingToken).ConfigureAwait(false)) tracker.Observe(ack.Node, ack.Seq);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                Ready = bus.Connected;
                LastError = ex.Message;
                Log.NatsUnavailable(logger, ex.Message);
                try
                {
                    await Task.Delay(bus.Options.ReconnectWait, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }
}
