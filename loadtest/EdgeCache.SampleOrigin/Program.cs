using System.Collections.Concurrent;
using System.Globalization;

// Endpoints (every Host is served):
//   GET /                       a small HTML page, public, max-age=60
//   GET /hello                  text, max-age=60, with an ETag
//   GET /obj/{size}/{name}      `size` bytes (e.g. 1024, 100k, 1m), max-age=3600; same bytes for the same name;
//                               Surrogate-Key: obj size-{size} [{?tag=}]
//   GET /private                Cache-Control: private
//   GET /images/{name}          real images made with libvips at start (loadtest/Shared/SampleImages.cs), public,
//                               max-age=86400, with an ETag: photo.jpg (2000x1500 JPEG, photo-like), disc.png
//                               (800x600 PNG with transparency), sweep.gif (240x160 animated GIF, 8 frames). The
//                               local CDN makes variants of them for img.example.com (README, "Image variants").
//   GET /__origin/stats         {"requests": N, "byPath": {...}}  (never cached)
//   POST /__origin/reset        zeroes the counters
var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
var app = builder.Build();

var images = new Dictionary<string, (byte[] Body, string Type)>(StringComparer.Ordinal)
{
    ["photo.jpg"] = (EdgeCache.LoadTesting.SampleImages.PhotoJpeg(2000, 1500), "image/jpeg"),
    ["disc.png"] = (EdgeCache.LoadTesting.SampleImages.DiscPng(800, 600), "image/png"),
    ["sweep.gif"] = (EdgeCache.LoadTesting.SampleImages.SweepGif(240, 160, 8), "image/gif"),
};

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

app.MapGet("/images/{name}", (HttpContext ctx, string name) =>
{
    if (!images.TryGetValue(name, out var image)) return Results.NotFound();
    var etag = $"\"{name}-{image.Body.Length}\"";
    ctx.Response.Headers.CacheControl = "public, max-age=86400";
    ctx.Response.Headers.ETag = etag;
    ctx.Response.Headers.LastModified = "Mon, 02 Nov 2026 10:00:00 GMT";
    if (ctx.Request.Headers.IfNoneMatch == etag) return Results.StatusCode(304);
    return Results.Bytes(image.Body, image.Type);
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
