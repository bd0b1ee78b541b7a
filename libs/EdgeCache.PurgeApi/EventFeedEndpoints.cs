using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeCache.Engine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeCache.PurgeApi;

/// <summary>
/// <c>GET /events</c> and <c>DELETE /events</c>: the feed a publisher's application instances follow
/// to apply purges to their own caches (HybridCache), through the API and never through NATS. A long
/// poll: <c>?instance=ID&amp;after=N&amp;timeoutMs=T</c> answers at once with the events after
/// <c>N</c> that touch the key's hosts, or waits up to <c>T</c> for one; <c>after</c> is also the
/// instance's acknowledgement of everything up to <c>N</c> and the poll renews its registration
/// (<see cref="InstanceRegistry"/>). <c>DELETE /events?instance=ID</c> leaves.
/// </summary>
public static class EventFeedEndpoints
{
    public const int MaxInstanceIdLength = 128;

    /// <summary>Registers the feed, the instance registry and their hosted service.</summary>
    public static IServiceCollection AddEventFeed(this IServiceCollection services)
    {
        services.AddSingleton<InstanceRegistry>();
        services.AddSingleton<EventFeed>();
        services.AddHostedService(sp => sp.GetRequiredService<EventFeed>());
        return services;
    }

    public static void MapEventFeed(this IEndpointRouteBuilder app)
    {
        app.MapGet("/events", (Delegate)((HttpContext ctx) => PollAsync(ctx)));
        app.MapDelete("/events", (HttpContext ctx, InstanceRegistry registry) =>
        {
            if (PurgeApiHost.Authenticate(ctx, out var refusal) is not { } key) return refusal!;
            if (InstanceOf(ctx, out var problem) is not { } instance) return problem!;
            var left = registry.Leave(key.Id, instance);
            Log.InstanceLeft(Logger(ctx), instance, key.Id, left);
            return Results.NoContent();
        });
    }

    private static ILogger Logger(HttpContext ctx) => ctx.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("EdgeCache.PurgeApi.Feed");

    private static async Task<IResult> PollAsync(HttpContext ctx)
    {
        var services = ctx.RequestServices;
        var o = services.GetRequiredService<IOptions<PurgeApiOptions>>().Value.Feed;
        if (PurgeApiHost.Authenticate(ctx, out var refusal) is not { } key) return refusal!;
        if (InstanceOf(ctx, out var problem) is not { } instance) return problem!;
        var query = ctx.Request.Query;
        ulong? after = null;
        if (query.TryGetValue("after", out var a))
        {
            if (a.Count != 1 || !ulong.TryParse(a[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n))
            {
                return Results.Problem(statusCode: 400, title: "Invalid after", detail: "'after' must be one stream sequence (a non-negative integer): the 'last' of the previous answer.");
            }

            after = n;
        }

        var timeout = o.DefaultPollTimeout;
        if (query.TryGetValue("timeoutMs", out var t))
        {
            if (t.Count != 1 || !int.TryParse(t[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms) || ms > o.MaxPollTimeout.TotalMilliseconds)
            {
                return Results.Problem(statusCode: 400, title: "Invalid timeoutMs", detail: $"timeoutMs must be between 0 and {(long)o.MaxPollTimeout.TotalMilliseconds}.");
            }

            timeout = TimeSpan.FromMilliseconds(ms);
        }

        var feed = services.GetRequiredService<EventFeed>();
        var registry = services.GetRequiredService<InstanceRegistry>();

        // Only a sequence the feed holds acknowledges anything: one from another stream (or the future) does not.
        var acknowledged = after is { } c && c >= feed.Floor && c <= feed.Last ? after : null;
        if (!registry.Begin(key.Id, instance, acknowledged))
        {
            ctx.Response.Headers.RetryAfter = "10";
            return Results.Problem(statusCode: 429, title: "Too many instances", detail: $"This key has {o.MaxInstancesPerKey} application instances registered (PurgeApi:Feed:MaxInstancesPerKey); stopped ones leave, or drop out after PurgeApi:Feed:InstanceLease.");
        }

        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
            deadline.CancelAfter(timeout);
            while (true)
            {
                var changed = feed.Changed;
                if (feed.IsConfirmed)
                {
                    var read = feed.Read(after, o.MaxEventsPerPoll, e => Visible(e, key));
                    if (read.Reset || read.Events.Count > 0 || after is null || deadline.IsCancellationRequested)
                    {
                        if (read.Reset) Log.FeedReset(Logger(ctx), instance, key.Id, after ?? 0, read.Last);
                        return Results.Json(Page(read, o.InstanceLease), FeedJsonContext.Default.FeedPage);
                    }
                }
                else if (deadline.IsCancellationRequested)
                {
                    ctx.Response.Headers.RetryAfter = "1";
                    return Results.Problem(statusCode: 503, title: "Feed not confirmed", detail: "The API has not confirmed that it is caught up with the invalidation stream (NATS unreachable or still reading); an instance must not count itself confirmed. Retry.");
                }

                try
                {
                    await changed.WaitAsync(deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ctx.RequestAborted.IsCancellationRequested)
                {
                    // The poll's time is up: answer with what there is (the loop's last turn).
                }
            }
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            return Results.Empty;
        }
        finally
        {
            registry.End(key.Id, instance);
        }
    }

    private static string? InstanceOf(HttpContext ctx, out IResult? problem)
    {
        problem = null;
        if (ctx.Request.Query.TryGetValue("instance", out var v) && v.Count == 1 && v[0] is { Length: > 0 and <= MaxInstanceIdLength } id && id.All(IsIdChar)) return id;
        problem = Results.Problem(statusCode: 400, title: "Invalid instance", detail: $"'instance' must be given once: 1 to {MaxInstanceIdLength} letters, digits, '.', '_', ':' or '-', the same on every poll of one application instance.");
        return null;
    }

    private static bool IsIdChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-';

    /// <summary>The part of <paramref name="e"/> that touches <paramref name="key"/>'s hosts, or null when none
    /// does: a key's instances learn nothing of other hosts' purges. A tag purge is seen by every key whose
    /// hosts meet the event's scope; everything (<c>all</c>) by every key.</summary>
    internal static InvalidationEvent? Visible(InvalidationEvent e, ApiKey key)
    {
        if (key.Hosts is null || e.All) return e;
        var urls = e.Urls.Where(u => HostOf(u) is { } h && key.Allows(h)).ToArray();
        var prefixes = e.Prefixes.Where(u => HostOf(u) is { } h && key.Allows(h)).ToArray();
        var hosts = e.Hosts.Where(key.Allows).ToArray();
        var tags = e.Scope is null || e.Scope.Any(key.Allows) ? e.Tags : [];
        if (urls.Length + prefixes.Length + hosts.Length + tags.Length == 0) return null;
        return e with { Urls = urls, Prefixes = prefixes, Hosts = hosts, Tags = tags, Scope = e.Scope?.Where(key.Allows).ToArray() };
    }

    private static string? HostOf(string url) => Uri.TryCreate(url, UriKind.Absolute, out var u) ? u.Host.ToLowerInvariant() : null;

    private static FeedPage Page(FeedRead read, TimeSpan instanceLease) => new(
        read.Reset,
        read.Last,
        (long)instanceLease.TotalMilliseconds,
        [.. read.Events.Select(x => new FeedEvent(x.Sequence, x.Event.Id, x.Event.Kind == InvalidationKind.Ttl ? "ttl" : "purge", x.Event.Urls, x.Event.Prefixes, x.Event.Tags, x.Event.Hosts, x.Event.All, x.Event.Soft, x.Event.MaxAge, x.Event.IssuedAt))]);
}

/// <summary>One answer of <c>GET /events</c>: <paramref name="Reset"/> when the events after the poll's
/// <c>after</c> are no longer held (drop everything), the events in order, and <paramref name="Last"/>,
/// the <c>after</c> of the next poll (it may pass events of other hosts, which are not sent), and
/// <paramref name="InstanceLeaseMs"/>: an instance must stop trusting what it cached within this long of
/// its last confirmed poll, since a purge stops waiting for it then.</summary>
public sealed record FeedPage(bool Reset, ulong Last, long InstanceLeaseMs, FeedEvent[] Events);

/// <summary>An event as an instance sees it: its stream sequence and its selectors within the key's hosts.</summary>
public sealed record FeedEvent(ulong Sequence, string Id, string Kind, string[] Urls, string[] Prefixes, string[] Tags, string[] Hosts, bool All, bool Soft, long? MaxAge, DateTimeOffset IssuedAt);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(FeedPage))]
internal sealed partial class FeedJsonContext : JsonSerializerContext;
