using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EdgeCache.Client.Internal;

namespace EdgeCache.Client;

/// <summary>Cache warming and refresh (<c>POST /warm</c>).</summary>
public sealed partial class EdgeCacheClient
{
    /// <summary>How long the API may take to fetch a call's URLs, beyond <see cref="EdgeCacheClientOptions.AttemptTimeout"/>
    /// (the API's own bound is its <c>PurgeApi:Warm:FetchTimeout</c> per URL, 30 s by default).</summary>
    private static readonly TimeSpan WarmAllowance = TimeSpan.FromSeconds(30);

    /// <summary>Fetches each of <paramref name="urls"/> into the shield that owns it (and with
    /// <see cref="WarmOptions.Edges"/> into every edge), so the first reader finds it there. Each URL's outcome
    /// is in the result; a URL that could not be warmed is a <see cref="WarmedUrl"/> with <c>Warmed</c> false,
    /// not an exception. Warming twice is harmless, so a lost answer is retried.</summary>
    public Task<WarmResult> WarmAsync(IEnumerable<Uri> urls, WarmOptions? warm = null, CancellationToken cancellationToken = default) =>
        PostWarmAsync(urls, warm ?? new WarmOptions(), refresh: false, wait: null, cancellationToken);

    /// <summary>
    /// Replaces each of <paramref name="urls"/> everywhere by a new copy without any reader paying the miss:
    /// the owning shield fetches it from the origin past its stored copy, then one purge removes every older
    /// copy on every node. With <see cref="RefreshOptions.Wait"/> (the default) the call returns once every live
    /// node applied that purge: from then on no node serves the old page. A URL whose new copy could not be
    /// fetched is reported and left as it was (its old copies are not purged: purge it if it must go).
    /// </summary>
    public Task<WarmResult> RefreshAsync(IEnumerable<Uri> urls, RefreshOptions? refresh = null, CancellationToken cancellationToken = default)
    {
        refresh ??= new RefreshOptions();
        var wait = refresh.Wait ? refresh.WaitTimeout ?? options.Value.DefaultWaitTimeout : (TimeSpan?)null;
        if (wait is { } w && (w <= TimeSpan.Zero || w > TimeSpan.FromMinutes(1)))
        {
            throw new ArgumentOutOfRangeException(nameof(refresh), w, "WaitTimeout must be positive and at most 1 minute.");
        }

        return PostWarmAsync(urls, refresh, refresh: true, wait, cancellationToken);
    }

    private async Task<WarmResult> PostWarmAsync(IEnumerable<Uri> urls, WarmOptions warm, bool refresh, TimeSpan? wait, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(urls);
        var list = urls.Select(u => u is { IsAbsoluteUri: true } ? u.AbsoluteUri : throw new ArgumentException("Every URL must be absolute.", nameof(urls))).ToArray();
        if (list.Length == 0) throw new ArgumentException("Give at least one URL.", nameof(urls));
        var body = new WireWarmRequest
        {
            Urls = list,
            Edges = warm.Edges ? true : null,
            Refresh = refresh ? true : null,
            Wait = wait is null ? null : true,
            TimeoutMs = wait is { } t ? Math.Max(1, (long)t.TotalMilliseconds) : null,
        };
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, WarmWireJsonContext.Default.WireWarmRequest));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("warm", UriKind.Relative)) { Content = content };
        request.Options.Set(WaitKey, WarmAllowance + (wait ?? TimeSpan.Zero));
        using (var response = await SendCheckedAsync(request, cancellationToken).ConfigureAwait(false))
        {
            var wire = await response.Content.ReadFromJsonAsync(WarmWireJsonContext.Default.WireWarmResponse, cancellationToken).ConfigureAwait(false)
                ?? throw new EdgeCacheApiException($"The EdgeCache purge API answered {(int)response.StatusCode} with an empty body.");
            PurgeResult? purge = wire.Purge is { } p
                ? new PurgeResult(p.Id, p.Sequence)
                {
                    Waited = true,
                    Complete = p.Complete ?? false,
                    Acked = [.. (p.Acked ?? []).Select(a => new NodeAck(a.Node, TimeSpan.FromMilliseconds(a.Ms)))],
                    Missing = p.Missing ?? [],
                }
                : wire.PurgeAccepted is { } a ? new PurgeResult(a.Id, a.Sequence) : null;
            return new WarmResult
            {
                Urls = [.. (wire.Results ?? []).Select(r => new WarmedUrl(new Uri(r.Url), r.Outcome == "warmed", r.Status, r.Cache, r.Reason)
                {
                    Edges = [.. (r.Edges ?? []).Select(e => new EdgeWarmOutcome(e.Node, e.Outcome == "warmed", e.Status, e.Reason))],
                })],
                Purge = purge,
            };
        }
    }
}
