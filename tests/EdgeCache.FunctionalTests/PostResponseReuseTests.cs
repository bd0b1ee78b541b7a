using System.Net;
using System.Security.Cryptography;
using System.Text;
using EdgeCache.FunctionalTests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// RFC 9110 §9.3.3 and RFC 9111 §4: a POST response with explicit freshness and a Content-Location equal
/// to its target is reused for later GET and HEAD requests, on a host with <c>StorePostResponses</c>
/// (<see cref="Topology.PostsSite"/>, set on both tiers); a POST itself always reaches the origin.
/// Elsewhere (the default) a POST is passed through and invalidates its target, as before.
/// </summary>
[Collection(CdnFixtureGroup.Name)]
public sealed class PostResponseReuseTests(Topology cdn)
{
    private static string NewPath() => "/posts/" + Guid.NewGuid().ToString("N");

    private static bool IsHit(HttpResponseMessage r) => r.EdgeStatus().StartsWith("EdgeCache-Edge; hit", StringComparison.Ordinal);

    /// <summary>
    /// An origin resource whose POST answers "posted:" + the request body with <paramref name="postHeaders"/>
    /// and whose GET answers "from-get" (max-age=600): which one a later GET gets says what was stored.
    /// </summary>
    private void MapResource(string path, int postStatus = 200, params (string Name, string Value)[] postHeaders) =>
        cdn.Origin.Map(path, async ctx =>
        {
            if (HttpMethods.IsPost(ctx.Request.Method))
            {
                using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
                var body = await reader.ReadToEndAsync();
                ctx.Response.StatusCode = postStatus;
                foreach (var (name, value) in postHeaders) ctx.Response.Headers.Append(name, value);
                await ctx.Response.WriteAsync("posted:" + body);
                return;
            }

            ctx.Response.Headers.CacheControl = "max-age=600";
            await ctx.Response.WriteAsync("from-get");
        });

    private Task<HttpResponseMessage> Post(string path, string body, string host = Topology.PostsSite, int edge = 0, Action<HttpRequestMessage>? configure = null) =>
        cdn.GetAsync(edge, path, host, m =>
        {
            m.Content = new StringContent(body, Encoding.UTF8, "text/plain");
            configure?.Invoke(m);
        }, HttpMethod.Post);

    private Task<HttpResponseMessage> Get(string path, string host = Topology.PostsSite, int edge = 0, HttpMethod? method = null) =>
        cdn.GetAsync(edge, path, host, method: method);

    private int Posts(string path) => cdn.Origin.Requests(path).Count(r => r.Method == "POST");

    [Fact]
    public async Task Rfc9110_9_3_3_a_post_response_with_freshness_and_Content_Location_of_the_target_serves_later_gets_but_never_a_post()
    {
        var path = NewPath();
        MapResource(path, 200, ("Cache-Control", "max-age=600"), ("Content-Location", path), ("ETag", "\"p1\""));

        using (var post = await Post(path, "first"))
        {
            Assert.Equal(HttpStatusCode.OK, post.StatusCode);
            Assert.Equal("posted:first", await post.BodyAsync());
            Assert.Equal(path, post.Header("Content-Location"));
            Assert.Contains("fwd=method", post.EdgeStatus(), StringComparison.Ordinal);
            Assert.Contains("stored", post.EdgeStatus(), StringComparison.Ordinal);
        }

        var seen = Assert.Single(cdn.Origin.Requests(path));
        Assert.Equal("POST", seen.Method);
        Assert.Equal("text/plain; charset=utf-8", seen.Headers["Content-Type"]);

        using (var get = await Get(path))
        {
            Assert.True(IsHit(get), get.EdgeStatus());
            Assert.Equal("posted:first", await get.BodyAsync());
            Assert.Equal("\"p1\"", get.Header("ETag"));
            Assert.Equal(path, get.Header("Content-Location"));
        }

        // A plain memory hit for the fast path too, the same bytes as the full path sends.
        var fastHits = await cdn.Edges[0].FastHitsAsync();
        string Raw(string fields) => $"GET {path} HTTP/1.1\r\nHost: {Topology.PostsSite}\r\nAccept: */*\r\n{fields}\r\n";
        var fast = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Raw(""), [false]))[0];
        Assert.Equal(fastHits + 1, await cdn.Edges[0].FastHitsAsync());
        var full = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Raw(FastHitTests.FullPathField), [false]))[0];
        Assert.Equal(fastHits + 1, await cdn.Edges[0].FastHitsAsync());
        Assert.Equal(full.StatusLine, fast.StatusLine);
        Assert.Equal(full.SortedHeaderLines(), fast.SortedHeaderLines());
        Assert.Equal("posted:first", Encoding.UTF8.GetString(fast.Body));
        Assert.Equal(full.Body, fast.Body);
        using (var head = await Get(path, method: HttpMethod.Head))
        {
            Assert.True(IsHit(head), head.EdgeStatus());
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        }

        // The other edge asks the shield that stored it too: the origin still saw only the POST.
        using (var other = await Get(path, edge: 1))
        {
            Assert.Equal("posted:first", await other.BodyAsync());
            Assert.StartsWith("EdgeCache-Shield; hit", other.ShieldStatus(), StringComparison.Ordinal);
        }

        Assert.Equal(1, cdn.Origin.Count(path));

        // A POST is never answered from cache; its new response replaces the stored one.
        using (var again = await Post(path, "second"))
        {
            Assert.Equal("posted:second", await again.BodyAsync());
            Assert.False(IsHit(again));
        }

        Assert.Equal(2, Posts(path));
        using (var get = await Get(path))
        {
            Assert.True(IsHit(get), get.EdgeStatus());
            Assert.Equal("posted:second", await get.BodyAsync());
        }

        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Theory]
    [InlineData("relative-name")]
    [InlineData("./relative-name?")]
    [InlineData("absolute")]
    public async Task Rfc9110_8_7_a_Content_Location_that_resolves_to_the_target_counts(string form)
    {
        var path = NewPath() + "/relative-name";
        var contentLocation = form switch
        {
            "absolute" => $"http://{Topology.PostsSite}{path}",
            _ => form.TrimEnd('?'),
        };
        MapResource(path, 200, ("Cache-Control", "s-maxage=600"), ("Content-Location", contentLocation));
        (await Post(path, "x")).Dispose();
        using var get = await Get(path);
        Assert.True(IsHit(get), get.EdgeStatus());
        Assert.Equal("posted:x", await get.BodyAsync());
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    public static TheoryData<string, int, string[]> NotStored => new()
    {
        { "Content-Location is another resource", 200, ["Cache-Control", "max-age=600", "Content-Location", "/posts/elsewhere"] },
        { "Content-Location has another query", 200, ["Cache-Control", "max-age=600", "Content-Location", "{path}?page=2"] },
        { "no Content-Location", 200, ["Cache-Control", "max-age=600"] },
        { "no explicit freshness (heuristics do not count)", 200, ["Cache-Control", "public", "Content-Location", "{path}", "Last-Modified", "Tue, 01 Jan 2019 00:00:00 GMT"] },
        { "an error status", 500, ["Cache-Control", "max-age=600", "Content-Location", "{path}"] },
        { "a redirect", 303, ["Cache-Control", "max-age=600", "Content-Location", "{path}", "Location", "{path}"] },
        { "private", 200, ["Cache-Control", "private, max-age=600", "Content-Location", "{path}"] },
        { "Set-Cookie (the host does not store it)", 200, ["Cache-Control", "max-age=600", "Content-Location", "{path}", "Set-Cookie", "session=1"] },
    };

    [Theory]
    [MemberData(nameof(NotStored))]
    public async Task A_post_response_that_does_not_meet_every_condition_is_not_stored_and_still_invalidates_the_target(string why, int status, string[] fields)
    {
        var path = NewPath();
        var headers = new (string, string)[fields.Length / 2];
        for (var i = 0; i < headers.Length; i++) headers[i] = (fields[2 * i], fields[(2 * i) + 1].Replace("{path}", path, StringComparison.Ordinal));
        MapResource(path, status, headers);

        // A stored GET response first: the POST's non-error response must drop it (RFC 9111 §4.4).
        (await Get(path)).Dispose();
        using (var stored = await Get(path)) Assert.True(IsHit(stored), why);

        using (var post = await Post(path, "body"))
        {
            Assert.Equal(status, (int)post.StatusCode);
            Assert.Equal("posted:body", await post.BodyAsync());
            Assert.DoesNotContain("stored", post.EdgeStatus(), StringComparison.Ordinal);
        }

        using var get = await Get(path);
        Assert.Equal("from-get", await get.BodyAsync());
        Assert.Equal(1, Posts(path));
        Assert.Equal(status is >= 200 and < 400 ? 2 : 1, cdn.Origin.Requests(path).Count(r => r.Method == "GET"));
    }

    [Fact]
    public async Task A_post_with_request_no_store_is_not_stored()
    {
        var path = NewPath();
        MapResource(path, 200, ("Cache-Control", "max-age=600"), ("Content-Location", path));
        (await Post(path, "x", configure: m => m.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { NoStore = true })).Dispose();
        using var get = await Get(path);
        Assert.Equal("from-get", await get.BodyAsync());
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Off_by_default_a_post_response_that_would_qualify_is_passed_through_and_invalidates_the_target()
    {
        var path = NewPath();
        MapResource(path, 200, ("Cache-Control", "max-age=600"), ("Content-Location", path));
        (await Get(path, host: Topology.Site)).Dispose();
        using (var post = await Post(path, "x", host: Topology.Site))
        {
            Assert.Equal("posted:x", await post.BodyAsync());
            Assert.DoesNotContain("stored", post.EdgeStatus(), StringComparison.Ordinal);
        }

        using var get = await Get(path, host: Topology.Site);
        Assert.False(IsHit(get));
        Assert.Equal("from-get", await get.BodyAsync());
        Assert.Equal(3, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task A_large_chunked_post_body_reaches_the_origin_whole_and_its_stored_response_is_served()
    {
        var path = NewPath();
        var sent = new byte[300 * 1024];
        for (var i = 0; i < sent.Length; i++) sent[i] = (byte)(i * 31 % 251);
        string? received = null;
        long receivedLength = -1;
        cdn.Origin.Map(path, async ctx =>
        {
            if (!HttpMethods.IsPost(ctx.Request.Method))
            {
                await ctx.Response.WriteAsync("from-get");
                return;
            }

            using var buffer = new MemoryStream();
            await ctx.Request.Body.CopyToAsync(buffer);
            receivedLength = buffer.Length;
            received = Convert.ToHexString(SHA256.HashData(buffer.ToArray()));
            ctx.Response.Headers.CacheControl = "max-age=600";
            ctx.Response.Headers.ContentLocation = path;
            await ctx.Response.WriteAsync("digest:" + received);
        });

        // No Content-Length: the client's body is chunked (HTTP/1.1), in many writes.
        using var post = await cdn.GetAsync(0, path, Topology.PostsSite, m => m.Content = new StreamContent(new MemoryStream(sent), 4096), HttpMethod.Post);
        var expected = Convert.ToHexString(SHA256.HashData(sent));
        Assert.Equal("digest:" + expected, await post.BodyAsync());
        Assert.Equal(sent.Length, receivedLength);
        Assert.Equal(expected, received);

        using var get = await Get(path);
        Assert.True(IsHit(get), get.EdgeStatus());
        Assert.Equal("digest:" + expected, await get.BodyAsync());
        Assert.Equal(1, cdn.Origin.Count(path));
    }
}
