using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.Extensions.Options;

namespace EdgeCache.Client.Internal;

/// <summary>The purge API's feed over HTTP: a long poll per call, on its own <see cref="HttpClient"/>
/// (no resilience pipeline: the backplane's loop retries, and a poll must not be cut by the purge
/// calls' attempt timeout).</summary>
internal sealed class HttpInvalidationFeed(IHttpClientFactory factory, IOptions<EdgeCacheClientOptions> client, IOptions<EdgeCacheInvalidationOptions> options) : IInvalidationFeed
{
    public const string HttpClientName = "EdgeCache.Invalidation";

    public async Task<FeedPage> PollAsync(ulong? after, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var path = "events?instance=" + Uri.EscapeDataString(options.Value.InstanceId)
            + (after is { } a ? "&after=" + a.ToString(CultureInfo.InvariantCulture) : "")
            + "&timeoutMs=" + ((long)timeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout + client.Value.AttemptTimeout);
        using var response = await SendAsync(request, cts.Token).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw await EdgeCacheClient.ErrorAsync(response, cts.Token).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync(FeedJsonContext.Default.FeedPage, cts.Token).ConfigureAwait(false)
            ?? throw new EdgeCacheApiException("The EdgeCache purge API answered GET /events with an empty body.");
    }

    public async Task LeaveAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, new Uri("events?instance=" + Uri.EscapeDataString(options.Value.InstanceId), UriKind.Relative));
        using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    private Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", client.Value.ApiKey);
        return factory.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
    }
}
