using System.Globalization;
using EdgeCache.LoadOrigin;

// The load tests' origin. Every Host is served. It is a superset of the sample origin, so the
// same k6 scripts run against either:
//   GET  /obj/{size}/{name}        `size` bytes (1024, 100k, 1m; at most 64m), the same bytes for the same name.
//                                  Query: ttl=N (max-age, default 3600), swr=N (stale-while-revalidate),
//                                  sie=N (stale-if-error). ETag "{name}-{size}-v{version}", also in X-Origin-Version.
//                                  If-None-Match with the current ETag gets 304.
//   GET  /text/{size}/{name}       the same for compressible text (text/html, numbered lines of markup), with
//                                  Vary: Accept-Encoding; gzip-encoded (level 6) when the request accepts gzip,
//                                  as a web origin with gzip on sends it (the bench's text-100k row).
//   GET  /img/{name}               the same 2000x1500 photo-like JPEG for every name (made with libvips on first
//                                  request, loadtest/Shared/SampleImages.cs), max-age=3600, ETag "photo-{length}":
//                                  bench.sh's image rows (a new name per request is a new original, so a new variant)
//   GET  /__origin/stats           {"requests": N, "byPath": {...}, "failMode": "off", "failed": N}
//                                  (?paths=0 leaves byPath out: cheap to poll during unique-URL runs)
//   POST /__origin/reset           zeroes the counters (versions and failure mode stay)
//   POST /__origin/fail?mode=M     M = off | 503 | reset: from now on every non-admin request is
//                                  answered 503 (no-store) or has its connection aborted; off recovers
//   POST /__origin/version?path=P  bumps the version of object P (/obj/{size}/{name}); without path,
//                                  of every object. Answers {"path", "version"}
//   GET  /__origin/healthz         ok (never fails)
// Admin paths (/__origin/...) are never counted and never fail.
var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
var app = builder.Build();

var state = new OriginState();
var photo = new Lazy<byte[]>(() => EdgeCache.LoadTesting.SampleImages.PhotoJpeg(2000, 1500));

app.Use((ctx, next) =>
{
    if (ctx.Request.Path.StartsWithSegments("/__origin")) return next(ctx);
    state.Count(ctx.Request.Path.Value ?? "/");
    switch (state.FailMode)
    {
        case FailMode.ServiceUnavailable:
            Interlocked.Increment(ref state.Failed);
            ctx.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            ctx.Response.Headers.CacheControl = "no-store";
            ctx.Response.ContentType = "text/plain";
            return ctx.Response.WriteAsync("the load origin is failing on purpose (POST /__origin/fail?mode=off recovers)\n");
        case FailMode.Reset:
            Interlocked.Increment(ref state.Failed);
            ctx.Abort();
            return Task.CompletedTask;
        default:
            return next(ctx);
    }
});

app.MapGet("/obj/{size}/{name}", (HttpContext ctx, string size, string name) =>
{
    if (!EdgeCache.LoadTesting.ObjectSizes.TryParse(size, out var bytes) || bytes > 64L * 1024 * 1024)
    {
        return Results.BadRequest("size must be like 1024, 100k or 1m (at most 64m)\n");
    }

    var query = ctx.Request.Query;
    if (!TryQuery(query["ttl"], 3600, out var ttl) || !TryQuery(query["swr"], -1, out var swr) || !TryQuery(query["sie"], -1, out var sie))
    {
        return Results.BadRequest("ttl, swr and sie must be non-negative integers (seconds)\n");
    }

    var version = state.VersionOf(ctx.Request.Path.Value!);
    var etag = $"\"{name}-{size}-v{version}\"";
    var headers = ctx.Response.Headers;
    headers.CacheControl = CacheControl(ttl, swr, sie);
    headers.ETag = etag;
    headers["X-Origin-Version"] = version.ToString(CultureInfo.InvariantCulture);
    if (ctx.Request.Headers.IfNoneMatch == etag) return Results.StatusCode(StatusCodes.Status304NotModified);
    return Results.Bytes(state.Body(size, name, (int)bytes), "application/octet-stream");
});

app.MapGet("/text/{size}/{name}", (HttpContext ctx, string size, string name) =>
{
    if (!EdgeCache.LoadTesting.ObjectSizes.TryParse(size, out var bytes) || bytes > 64L * 1024 * 1024)
    {
        return Results.BadRequest("size must be like 1024, 100k or 1m (at most 64m)\n");
    }

    var headers = ctx.Response.Headers;
    headers.CacheControl = CacheControl(3600, -1, -1);
    headers.Vary = "Accept-Encoding";
    var gzip = AcceptsGzip(ctx.Request.Headers.AcceptEncoding);
    headers.ETag = $"\"{name}-{size}-text{(gzip ? "-gzip" : "")}\"";
    if (!gzip) return Results.Bytes(state.Text(size, name, (int)bytes), "text/html; charset=utf-8");
    headers.ContentEncoding = "gzip";
    return Results.Bytes(state.GzipText(size, name, (int)bytes), "text/html; charset=utf-8");
});

app.MapGet("/img/{name}", (HttpContext ctx, string name) =>
{
    var body = photo.Value;
    ctx.Response.Headers.CacheControl = "public, max-age=3600";
    ctx.Response.Headers.ETag = $"\"photo-{body.Length}\"";
    return Results.Bytes(body, "image/jpeg");
});

app.MapGet("/__origin/stats", (string? paths) => Results.Json(new
{
    requests = Interlocked.Read(ref state.Total),
    byPath = paths == "0" ? null : state.ByPath,
    failMode = state.FailModeName,
    failed = Interlocked.Read(ref state.Failed),
}));

app.MapPost("/__origin/reset", () =>
{
    state.Reset();
    return Results.NoContent();
});

app.MapPost("/__origin/fail", (string? mode) =>
{
    FailMode? parsed = mode switch
    {
        "off" => FailMode.Off,
        "503" => FailMode.ServiceUnavailable,
        "reset" => FailMode.Reset,
        _ => null,
    };
    if (parsed is not { } m)
    {
        return Results.Problem(title: "Unknown failure mode", detail: "mode must be off, 503 or reset.", statusCode: StatusCodes.Status400BadRequest);
    }

    state.FailMode = m;
    return Results.Json(new { failMode = state.FailModeName });
});

app.MapPost("/__origin/version", (string? path) =>
{
    if (path is not null && !path.StartsWith("/obj/", StringComparison.Ordinal))
    {
        return Results.Problem(title: "Unknown object", detail: "path must look like /obj/{size}/{name}.", statusCode: StatusCodes.Status400BadRequest);
    }

    var version = state.Bump(path);
    return Results.Json(new { path, version });
});

app.MapGet("/__origin/healthz", () => Results.Text("ok\n"));

app.Run();

static string CacheControl(long ttl, long swr, long sie)
{
    var cc = "public, max-age=" + ttl.ToString(CultureInfo.InvariantCulture);
    if (swr >= 0) cc += ", stale-while-revalidate=" + swr.ToString(CultureInfo.InvariantCulture);
    if (sie >= 0) cc += ", stale-if-error=" + sie.ToString(CultureInfo.InvariantCulture);
    return cc;
}

static bool AcceptsGzip(Microsoft.Extensions.Primitives.StringValues acceptEncoding)
{
    foreach (var line in acceptEncoding)
    {
        foreach (var member in (line ?? "").Split(','))
        {
            var parts = member.Split(';', 2, StringSplitOptions.TrimEntries);
            if (!parts[0].Equals("gzip", StringComparison.OrdinalIgnoreCase)) continue;
            if (parts.Length == 1) return true;
            var q = parts[1].Replace(" ", "", StringComparison.Ordinal);
            return !q.StartsWith("q=", StringComparison.OrdinalIgnoreCase)
                || !double.TryParse(q.AsSpan(2), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var weight) || weight > 0;
        }
    }

    return false;
}

static bool TryQuery(Microsoft.Extensions.Primitives.StringValues value, long fallback, out long result)
{
    result = fallback;
    if (value.Count == 0) return true;
    return long.TryParse(value[0], NumberStyles.None, CultureInfo.InvariantCulture, out result);
}

