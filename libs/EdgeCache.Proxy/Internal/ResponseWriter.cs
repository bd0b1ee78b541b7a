using EdgeCache.Engine;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace EdgeCache.Proxy.Internal;

/// <summary>Writes responses to clients: stored entries (hits, and misses as they stream in), upstream
/// responses that are not stored, and the node's own errors.</summary>
internal static class ResponseWriter
{
    /// <summary>Writes a stored entry. <paramref name="beforeEnd"/>, for a miss, is awaited before the body's
    /// last bytes are written (see <see cref="FetchResult.InMemory"/>).</summary>
    public static async Task WriteEntryAsync(HttpContext ctx, CacheEngine engine, CachedResponse entry, HostCachePolicy policy, string cacheStatus, StringValues upstreamCacheStatus, Task? beforeEnd = null)
    {
        var request = ctx.Request;
        var response = ctx.Response;
        var headers = response.Headers;
        var now = engine.Time.GetUtcNow();
        var age = Freshness.AgeSeconds(entry.CurrentAge(now));
        var isHead = HttpMethods.IsHead(request.Method);
        if (entry.Partial is { } span)
        {
            await WritePartialAsync(ctx, engine, entry, span, policy, age, CacheStatusOf(cacheStatus, upstreamCacheStatus), now, beforeEnd).ConfigureAwait(false);
            return;
        }

        // A conditional request is answered from the stored response (RFC 9111 §4.3.2).
        if (Conditionals.IsNotModified(request.Headers, entry, now))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            var sink = new StoredHead.Headers(headers);
            StoredHead.WriteNotModifiedFields(ref sink, entry, engine, policy);
            StoredHead.WriteAgeAndStatus(ref sink, age, CacheStatusOf(cacheStatus, upstreamCacheStatus));
            return;
        }

        var status = entry.StatusCode;
        long start = 0;
        long? count = entry.Body.IsCompleted ? entry.Body.Length : KnownLength(entry);
        string? contentRange = null;
        if (status == StatusCodes.Status200OK && request.Headers.ContainsKey(HeaderNames.Range) && Conditionals.IfRangeAllows(request.Headers, entry, now))
        {
            if (count is null)
            {
                if (!await entry.Body.WaitForCompletionAsync(ctx.RequestAborted).ConfigureAwait(false))
                {
                    await WriteErrorAsync(ctx, engine, StatusCodes.Status502BadGateway, "The upstream response ended early.", cacheStatus).ConfigureAwait(false);
                    return;
                }

                count = entry.Body.Length;
            }

            var total = count.Value;
            switch (ByteRange.Evaluate(request.Headers.Range, total, out var s, out var n))
            {
                case RangeOutcome.Unsatisfiable:
                    response.StatusCode = StatusCodes.Status416RangeNotSatisfiable;
                    var unsatisfiable = new StoredHead.Headers(headers);
                    StoredHead.WriteUnsatisfiableFields(ref unsatisfiable, entry, engine, total);
                    StoredHead.WriteAgeAndStatus(ref unsatisfiable, age, CacheStatusOf(cacheStatus, upstreamCacheStatus));
                    return;
                case RangeOutcome.Partial:
                    status = StatusCodes.Status206PartialContent;
                    start = s;
                    count = n;
                    contentRange = "bytes " + s + "-" + (s + n - 1) + "/" + total;
                    break;
            }
        }

        response.StatusCode = status;
        var bodiless = status is StatusCodes.Status204NoContent or < 200;
        var fields = new StoredHead.Headers(headers);
        StoredHead.WriteFields(ref fields, entry, engine, policy, status, contentRange, bodiless ? null : count);
        StoredHead.WriteAgeAndStatus(ref fields, age, CacheStatusOf(cacheStatus, upstreamCacheStatus));
        if (bodiless) return;
        if (isHead) return;
        ApplyHitDataRate(ctx, engine);

        if (start == 0 && entry.Body.TryGetSingleSegment(out var whole) && (count ?? whole.Length) == whole.Length)
        {
            if (beforeEnd is { IsCompleted: false }) await CacheBody.AwaitQuietlyAsync(beforeEnd, ctx.RequestAborted).ConfigureAwait(false);
            await response.BodyWriter.WriteAsync(whole, ctx.RequestAborted).ConfigureAwait(false);
            return;
        }

        // A range ends before the body may: it is not held for the rest to arrive.
        await CopyBodyAsync(ctx, engine, entry.Body, start, count ?? -1, contentRange is null ? beforeEnd : null).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes a stored partial, always as a 206 (RFC 9111 §3.3): the requested range when the partial
    /// answers the request (<see cref="PartialContent.Answers"/>: the only way a hit gets here), else,
    /// for the one request whose fetch brought it, the whole span as the upstream sent it.
    /// </summary>
    private static async Task WritePartialAsync(HttpContext ctx, CacheEngine engine, CachedResponse entry, PartialSpan span, HostCachePolicy policy, long age, StringValues cacheStatus, DateTimeOffset now, Task? beforeEnd)
    {
        var request = ctx.Request;
        var response = ctx.Response;
        var (start, count) = PartialContent.Answers(entry, request.Method, request.Headers, now, out var s, out var n) ? (s, n) : (span.First, span.Length);
        response.StatusCode = StatusCodes.Status206PartialContent;
        var fields = new StoredHead.Headers(response.Headers);
        StoredHead.WriteFields(ref fields, entry, engine, policy, StatusCodes.Status206PartialContent, PartialSpan.Format(start, count, span.Complete), count);
        StoredHead.WriteAgeAndStatus(ref fields, age, cacheStatus);
        if (HttpMethods.IsHead(request.Method)) return;
        ApplyHitDataRate(ctx, engine);
        await CopyBodyAsync(ctx, engine, entry.Body, start - span.First, count, count == span.Length ? beforeEnd : null).ConfigureAwait(false);
    }

    /// <summary>A response from cache is cut off when the client reads it slower than
    /// <c>Listen:MinHitDataRate</c> (HTTP/1.x: HTTP/2 streams share their connection's limits).</summary>
    private static void ApplyHitDataRate(HttpContext ctx, CacheEngine engine)
    {
        if (engine.HitDataRate is not { } rate || !ctx.Request.Protocol.StartsWith("HTTP/1", StringComparison.Ordinal)) return;
        if (ctx.Features.Get<Microsoft.AspNetCore.Server.Kestrel.Core.Features.IHttpMinResponseDataRateFeature>() is { } feature) feature.MinDataRate = rate;
    }

    /// <summary>Streams an upstream response as the upstream sent it: one that is not stored (private, no-store,
    /// too large …), or a POST's that is (then <paramref name="beforeEnd"/>, its copy being in memory, is awaited
    /// before the last bytes, or before the end of a response without a body).</summary>
    public static async Task WriteUpstreamAsync(HttpContext ctx, CacheEngine engine, UpstreamResponse upstream, HostCachePolicy policy, string cacheStatus, Task? beforeEnd = null)
    {
        try
        {
            await WriteUpstreamCoreAsync(ctx, engine, upstream, policy, cacheStatus, beforeEnd).ConfigureAwait(false);
        }
        finally
        {
            // Whatever this client did not read, nobody will: stop the transfer.
            if (!upstream.Body.IsCompleted) upstream.Abort();
        }
    }

    private static async Task WriteUpstreamCoreAsync(HttpContext ctx, CacheEngine engine, UpstreamResponse upstream, HostCachePolicy policy, string cacheStatus, Task? beforeEnd)
    {
        var response = ctx.Response;
        var headers = response.Headers;
        response.StatusCode = upstream.StatusCode;
        foreach (var h in upstream.Headers)
        {
            if (h.Key.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase)) continue;
            if (h.Key.Equals(HeaderRules.CacheStatus, StringComparison.OrdinalIgnoreCase)) continue;
            if (h.Key.Equals(HeaderRules.StoredSeq, StringComparison.OrdinalIgnoreCase)) continue;
            if (engine.HidesFromClients(h.Key, policy)) continue;
            headers[h.Key] = h.Value;
        }

        headers.Via = RequestRewriter.AppendVia(headers.Via, engine.ViaToken);
        headers[HeaderRules.CacheStatus] = StringValues.Concat(upstream.Headers[HeaderRules.CacheStatus], cacheStatus);
        var bodiless = upstream.StatusCode is StatusCodes.Status204NoContent or StatusCodes.Status304NotModified or < 200;
        if (!bodiless && upstream.ContentLength is { } length) response.ContentLength = length;
        if (bodiless || HttpMethods.IsHead(ctx.Request.Method))
        {
            if (beforeEnd is { IsCompleted: false }) await CacheBody.AwaitQuietlyAsync(beforeEnd, ctx.RequestAborted).ConfigureAwait(false);
            return;
        }

        await CopyBodyAsync(ctx, engine, upstream.Body, 0, -1, beforeEnd).ConfigureAwait(false);
    }

    /// <summary>Writes this node's own error; <paramref name="closeConnection"/> ends the connection after it
    /// (when the request's framing cannot be trusted).</summary>
    public static Task WriteErrorAsync(HttpContext ctx, CacheEngine engine, int status, string message, string cacheStatus, bool closeConnection = false)
    {
        var response = ctx.Response;
        if (response.HasStarted)
        {
            ctx.Abort();
            return Task.CompletedTask;
        }

        response.Clear();
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        response.Headers.Via = engine.ViaToken;
        response.Headers[HeaderRules.CacheStatus] = cacheStatus;
        if (closeConnection) response.Headers.Connection = "close";
        return response.WriteAsync($"{status} {ReasonPhrase(status)}: {message}\n");
    }

    /// <summary>Writes this node's own <c>application/problem+json</c> answer (RFC 9457) to bad input.</summary>
    public static Task WriteProblemAsync(HttpContext ctx, CacheEngine engine, int status, string title, string detail, string cacheStatus)
    {
        var response = ctx.Response;
        response.Clear();
        response.StatusCode = status;
        response.ContentType = "application/problem+json";
        response.Headers.CacheControl = "no-store";
        response.Headers.Via = engine.ViaToken;
        response.Headers[HeaderRules.CacheStatus] = cacheStatus;
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var json = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("type", "about:blank");
            json.WriteString("title", title);
            json.WriteNumber("status", status);
            json.WriteString("detail", detail);
            json.WriteEndObject();
        }

        response.ContentLength = buffer.WrittenCount;
        return HttpMethods.IsHead(ctx.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(buffer.WrittenMemory).AsTask();
    }

    private static async Task CopyBodyAsync(HttpContext ctx, CacheEngine engine, CacheBody body, long start, long count, Task? beforeEnd = null)
    {
        try
        {
            await body.CopyToAsync(ctx.Response.BodyWriter, start, count, ctx.RequestAborted, beforeEnd).ConfigureAwait(false);
        }
        catch (IOException ex) when (!ctx.RequestAborted.IsCancellationRequested)
        {
            // The upstream broke mid-body: cut the transfer so the client sees a truncated
            // response, never a complete-looking wrong one.
            Log.BodyFailed(engine.Logger, ex);
            ctx.Abort();
        }
    }

    private static StringValues CacheStatusOf(string cacheStatus, StringValues upstreamCacheStatus) =>
        upstreamCacheStatus.Count == 0 ? new StringValues(cacheStatus) : StringValues.Concat(upstreamCacheStatus, cacheStatus);

    private static long? KnownLength(CachedResponse entry)
    {
        var cl = entry.GetHeader(HeaderNames.ContentLength);
        return cl.Count == 1 && long.TryParse(cl[0], System.Globalization.NumberStyles.None, null, out var n) ? n : null;
    }

    private static string ReasonPhrase(int status) => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);
}
