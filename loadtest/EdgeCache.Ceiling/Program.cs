// Bare Kestrel answering GET /obj/{size}/{anything} (size 1k, 100k or 1m) with a preallocated
// byte array and the headers a cache hit carries. Anything else is 404. No routing, no logging,
// no per-request allocation beyond what Kestrel itself does.
using Microsoft.Extensions.Primitives;

var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
var app = builder.Build();

var bodies = new Dictionary<string, byte[]>(StringComparer.Ordinal)
{
    ["1k"] = Fill(1024),
    ["100k"] = Fill(100 * 1024),
    ["1m"] = Fill(1024 * 1024),
};
var cacheControl = new StringValues("public, max-age=3600");
var contentType = new StringValues("application/octet-stream");

app.Run(ctx =>
{
    var path = ctx.Request.Path.Value ?? "";
    var body = Lookup(bodies, path);
    var response = ctx.Response;
    if (body is null)
    {
        response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }

    response.ContentLength = body.Length;
    response.Headers.CacheControl = cacheControl;
    response.Headers.ContentType = contentType;
    return response.Body.WriteAsync(body, 0, body.Length, ctx.RequestAborted);
});

app.Run();

static byte[]? Lookup(Dictionary<string, byte[]> bodies, string path)
{
    // /obj/{size}/{name}
    if (!path.StartsWith("/obj/", StringComparison.Ordinal)) return null;
    var rest = path.AsSpan(5);
    var slash = rest.IndexOf('/');
    if (slash <= 0) return null;
    return bodies.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(rest[..slash], out var body) ? body : null;
}

static byte[] Fill(int size)
{
    var body = new byte[size];
    new Random(42).NextBytes(body);
    return body;
}
