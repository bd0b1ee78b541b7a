using System.Collections.Concurrent;
using System.Globalization;

// Endpoints (every Host is served):
//   GET /                       a small HTML page, public, max-age=60
//   GET /hello                  text, max-age=60, with an ETag
//   GET /obj/{size}/{name}      `size` bytes (e.g. 1024, 100k, 1m), max-age=3600; same bytes for the same name;
//                               Surrogate-Key: obj size-{size} [{?tag=}]
//   GET /private                Cache-Control: private
//   GET /__origin/stats         {"requests": N, "byPath": {...}}  (never cached)
//   POST /__origin/reset        zeroes the counters
var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
var app = builder.Build();

var total = 0L;
var byPath = new ConcurrentDictionary<string, long>();
var bodies = new ConcurrentDictionary<string, byte[]>();

app.Use((ctx, next) =>
{
    if (!ctx.Request.Path.StartsWithSegments("/__origin"))
    {
        Interlocked.Increment(ref total);
        byPath.AddOrUpdate(ctx.Request.Path.Value ?? "/", 1, (_, n) => n + 1);
    }

    return next(ctx);
});

app.MapGet("/", (HttpContext ctx) =>
{
    ctx.Response.Headers.CacheControl = "public, max-age=60";
    return Results.Content("<!doctype html><title>EdgeCache sample origin</title><h1>Hello from the origin</h1>\n", "text/html; charset=utf-8");
});

app.MapGet("/hello", (HttpContext ctx) =>
{
    ctx.Response.Headers.CacheControl = "public, max-age=60";
    ctx.Response.Headers.ETag = "\"hello-v1\"";
    ctx.Response.Headers.LastModified = "Mon, 02 Nov 2026 10:00:00 GMT";
    if (ctx.Request.Headers.IfNoneMatch == "\"hello-v1\"") return Results.StatusCode(304);
    return Results.Text($"Hello from the origin at {DateTimeOffset.UtcNow:O}\n");
});

app.MapGet("/obj/{size}/{name}", (HttpContext ctx, string size, string name) =>
{
    if (!EdgeCache.LoadTesting.ObjectSizes.TryParse(size, out var bytes) || bytes > 512L * 1024 * 1024) return Results.BadRequest("size must be like 1024, 100k or 1m (at most 512m)\n");
    var body = bodies.GetOrAdd(size + "/" + name, _ => Fill((int)bytes, name));
    ctx.Response.Headers.CacheControl = "public, max-age=3600";
    ctx.Response.Headers.ETag = $"\"{name}-{size}\"";
    // Surrogate keys for tag purges: every object, its size, and the request's ?tag= if any.
    var tag = ctx.Request.Query["tag"].ToString().Trim();
    ctx.Response.Headers["Surrogate-Key"] = ("obj size-" + size + " " + tag).Trim();
    return Results.Bytes(body, "application/octet-stream");
});

app.MapGet("/private", (HttpContext ctx) =>
{
    ctx.Response.Headers.CacheControl = "private, max-age=60";
    return Results.Text("only for you\n");
});

app.MapGet("/__origin/stats", () => Results.Json(new { requests = Interlocked.Read(ref total), byPath }));
app.MapPost("/__origin/reset", () =>
{
    Interlocked.Exchange(ref total, 0);
    byPath.Clear();
    return Results.NoContent();
});

app.Run();


static byte[] Fill(int size, string seed)
{
    var body = new byte[size];
    new Random(seed.GetHashCode(StringComparison.Ordinal)).NextBytes(body);
    return body;
}
