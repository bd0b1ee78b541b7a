using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EdgeCache.Client.Internal;
using Microsoft.Extensions.Options;

namespace EdgeCache.Client;

/// <summary>
/// The purge API, typed: purges and TTL changes with every selector, optionally waiting until every
/// live edge and shield applied them. Register it with
/// <see cref="EdgeCacheClientServiceCollectionExtensions.AddEdgeCacheClient(Microsoft.Extensions.DependencyInjection.IServiceCollection, Action{EdgeCacheClientOptions})"/>
/// and inject it. Each call carries one <c>Idempotency-Key</c> on all of its attempts, so the
/// retries of a call whose answer was lost never purge twice. Refusals are
/// <see cref="EdgeCacheApiException"/>s; connection failures that outlast the retries are
/// <see cref="HttpRequestException"/>s; the whole call's timeout is a <see cref="TimeoutException"/>.
/// </summary>
public sealed partial class EdgeCacheClient(HttpClient http, IOptions<EdgeCacheClientOptions> options)
{
    /// <summary>The <see cref="HttpRequestMessage.Options"/> entry the resilience pipeline reads to lengthen
    /// a waited call's timeouts by its wait.</summary>
    internal static readonly HttpRequestOptionsKey<TimeSpan> WaitKey = new("EdgeCache.Wait");

    private const string IdempotencyKeyHeader = "Idempotency-Key";
    private const string ReplayedHeader = "Idempotent-Replayed";

    /// <summary>Purges (or, with <see cref="PurgeOptions.Soft"/>, marks stale) what <paramref name="selector"/> names.</summary>
    public Task<PurgeResult> PurgeAsync(PurgeSelector selector, PurgeOptions? purge = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(selector);
        purge ??= new PurgeOptions();
        return PostAsync("purge", selector, purge, purge.Soft ? true : null, null, cancellationToken);
    }

    /// <summary>Gives every stored object <paramref name="selector"/> names a new remaining freshness lifetime
    /// of <paramref name="maxAge"/> (whole seconds), shorter or longer than it had.</summary>
    public Task<PurgeResult> SetTtlAsync(PurgeSelector selector, TimeSpan maxAge, EdgeCacheCallOptions? call = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(selector);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAge, TimeSpan.Zero);
        return PostAsync("ttl", selector, call ?? new EdgeCacheCallOptions(), null, (long)maxAge.TotalSeconds, cancellationToken);
    }

    /// <summary>A purge's progress, later, by its <see cref="PurgeResult.Id"/> (the API keeps the latest ones).</summary>
    public async Task<PurgeResult> GetPurgeAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("purge/" + Uri.EscapeDataString(id), UriKind.Relative));
        return await SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    private async Task<PurgeResult> PostAsync(string path, PurgeSelector selector, EdgeCacheCallOptions call, bool? soft, long? maxAge, CancellationToken cancellationToken)
    {
        if (selector.IsEmpty) throw new ArgumentException("Give at least one of Urls, Prefixes, Tags, Hosts, or All.", nameof(selector));
        var o = options.Value;
        var wait = call.Wait ? call.WaitTimeout ?? o.DefaultWaitTimeout : (TimeSpan?)null;
        if (wait is { } w && (w <= TimeSpan.Zero || w > TimeSpan.FromMinutes(1)))
        {
            throw new ArgumentOutOfRangeException(nameof(call), w, "WaitTimeout must be positive and at most 1 minute.");
        }

        var body = new WireRequest
        {
            Urls = NullIfEmpty(selector.Urls),
            Prefixes = NullIfEmpty(selector.Prefixes),
            Tags = NullIfEmpty(selector.Tags),
            Hosts = NullIfEmpty(selector.Hosts),
            All = selector.All ? true : null,
            Soft = soft,
            Wait = wait is null ? null : true,
            TimeoutMs = wait is { } t ? Math.Max(1, (long)t.TotalMilliseconds) : null,
            MaxAge = maxAge,
        };

        // Serialized once: every attempt sends the same bytes, which is what the API compares a repeated key's request by.
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, WireJsonContext.Default.WireRequest));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)) { Content = content };
        request.Headers.TryAddWithoutValidation(IdempotencyKeyHeader, call.IdempotencyKey ?? Guid.NewGuid().ToString("D"));
        if (wait is { } waited) request.Options.Set(WaitKey, waited);
        return await SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends <paramref name="request"/> with the key; a refusal becomes its typed exception, the
    /// resilience pipeline's timeout a <see cref="TimeoutException"/>. The caller disposes the answer.</summary>
    internal async Task<HttpResponseMessage> SendCheckedAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.Value.ApiKey);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Polly.Timeout.TimeoutRejectedException ex)
        {
            throw new TimeoutException("The EdgeCache purge API did not answer in time (EdgeCacheClient:Timeout, retries included).", ex);
        }

        if (response.IsSuccessStatusCode) return response;
        using (response) throw await ErrorAsync(response, cancellationToken).ConfigureAwait(false);
    }

    private async Task<PurgeResult> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using (var response = await SendCheckedAsync(request, cancellationToken).ConfigureAwait(false))
        {
            var status = await response.Content.ReadFromJsonAsync(WireJsonContext.Default.WireStatus, cancellationToken).ConfigureAwait(false)
                ?? throw new EdgeCacheApiException($"The EdgeCache purge API answered {(int)response.StatusCode} with an empty body.");
            return new PurgeResult(status.Id, status.Sequence)
            {
                Waited = status.Complete is not null,
                Complete = status.Complete ?? false,
                Acked = [.. (status.Acked ?? []).Select(a => new NodeAck(a.Node, TimeSpan.FromMilliseconds(a.Ms)))],
                Missing = status.Missing ?? [],
                InstancesAcked = [.. (status.Instances?.Acked ?? []).Select(a => new InstanceAck(a.Instance, TimeSpan.FromMilliseconds(a.Ms)))],
                InstancesMissing = status.Instances?.Missing ?? [],
                InstancesLeft = status.Instances?.Left ?? [],
                Replayed = response.Headers.TryGetValues(ReplayedHeader, out var replayed) && replayed.Contains("true", StringComparer.OrdinalIgnoreCase),
            };
        }
    }

    /// <summary>The typed exception for a refusal, with its problem body when it has one.</summary>
    internal static async Task<EdgeCacheApiException> ErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        EdgeCacheProblem? problem = null;
        if (response.Content.Headers.ContentType?.MediaType is "application/problem+json" or "application/json")
        {
            try
            {
                if (await response.Content.ReadFromJsonAsync(WireJsonContext.Default.WireProblem, cancellationToken).ConfigureAwait(false) is { } p)
                {
                    problem = new EdgeCacheProblem
                    {
                        Type = p.Type,
                        Title = p.Title,
                        Status = p.Status,
                        Detail = p.Detail,
                        Instance = p.Instance,
                        Extensions = p.Extensions ?? [],
                    };
                }
            }
            catch (JsonException)
            {
            }
        }

        return response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => new EdgeCacheUnauthorizedException(problem),
            HttpStatusCode.Forbidden => new EdgeCacheForbiddenException(problem),
            HttpStatusCode.RequestEntityTooLarge => new EdgeCachePayloadTooLargeException(problem),
            HttpStatusCode.UnprocessableEntity => new EdgeCacheIdempotencyKeyReusedException(problem),
            HttpStatusCode.TooManyRequests => new EdgeCacheRateLimitedException(problem, RetryAfter(response)),
            var other => new EdgeCacheApiException(other, problem),
        };
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow is var d && d > TimeSpan.Zero ? d : TimeSpan.Zero,
        _ => null,
    };

    private static IReadOnlyList<string>? NullIfEmpty(IReadOnlyList<string> list) => list.Count == 0 ? null : list;
}
