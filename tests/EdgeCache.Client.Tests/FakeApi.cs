using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace EdgeCache.Client.Tests;

/// <summary>A scripted purge API: each request is recorded (with its Idempotency-Key and body) and
/// answered by the next step of the script; the last step repeats.</summary>
internal sealed class FakeApi(params Func<HttpRequestMessage, HttpResponseMessage>[] script) : HttpMessageHandler
{
    public ConcurrentQueue<(string? IdempotencyKey, string? Authorization, string Body, Uri Uri)> Requests { get; } = new();

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
        var key = request.Headers.TryGetValues("Idempotency-Key", out var v) ? v.Single() : null;
        Requests.Enqueue((key, request.Headers.Authorization?.ToString(), body, request.RequestUri!));
        var step = script[Math.Min(Requests.Count - 1, script.Length - 1)];
        return step(request);
    }

    public static Func<HttpRequestMessage, HttpResponseMessage> Json(HttpStatusCode status, string json, string mediaType = "application/json") =>
        _ => new HttpResponseMessage(status) { Content = new StringContent(json, Encoding.UTF8, mediaType) };

    public static Func<HttpRequestMessage, HttpResponseMessage> Problem(HttpStatusCode status, string title, string? retryAfter = null) => _ =>
    {
        var r = new HttpResponseMessage(status)
        {
            Content = new StringContent($"{{\"type\":\"https://tools.ietf.org/html/rfc9110\",\"title\":\"{title}\",\"status\":{(int)status},\"detail\":\"{title} (detail)\",\"traceId\":\"00-abc\"}}", Encoding.UTF8, "application/problem+json"),
        };
        if (retryAfter is not null) r.Headers.TryAddWithoutValidation("Retry-After", retryAfter);
        return r;
    };

    public static Func<HttpRequestMessage, HttpResponseMessage> Throw(Exception ex) => _ => throw ex;
}
