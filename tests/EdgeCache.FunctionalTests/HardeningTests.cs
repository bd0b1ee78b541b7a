using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// The holes an outside security test found (issue: hardening), each through real edges, shields
/// and an origin that behaves as the reproducer's did. Forwarding fields are in <see cref="ForwardingTests"/>.
/// </summary>
[Collection(CdnFixtureGroup.Name)]
public sealed class HardeningTests(Topology cdn)
{
    private static string NewPath() => "/hardening/" + Guid.NewGuid().ToString("N");

    private const string Text = "plain text that the origin gzips for clients whose Accept-Encoding mentions gzip";

    /// <summary>An origin that gzips whenever the field contains "gzip" (as many do, ignoring q-values).</summary>
    private void MapNaiveGzip(string path, bool vary = true) =>
        cdn.Origin.Map(path, async ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            if (vary) ctx.Response.Headers.Vary = "Accept-Encoding";
            if (ctx.Request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.Ordinal))
            {
                ctx.Response.Headers.ContentEncoding = "gzip";
                using var buffer = new MemoryStream();
                await using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true)) await gzip.WriteAsync(Encoding.UTF8.GetBytes(Text));
                await ctx.Response.Body.WriteAsync(buffer.ToArray());
                return;
            }

            await ctx.Response.WriteAsync(Text);
        });

    private static void NoAcceptEncoding(HttpRequestMessage m) => m.Headers.AcceptEncoding.Clear();

    [Fact]
    public async Task A_gzip_body_fetched_for_gzip_q0_is_not_stored_as_the_identity_variant()
    {
        var path = NewPath();
        MapNaiveGzip(path);
        using var attack = await cdn.GetAsync(0, path, configure: m => m.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip;q=0"));
        Assert.Equal("gzip", attack.Header("Content-Encoding"));
        Assert.DoesNotContain("stored", attack.EdgeStatus(), StringComparison.Ordinal);

        // Clients that send no Accept-Encoding, at both edges, never get gzip bytes.
        foreach (var edge in new[] { 0, 1, 0 })
        {
            using var plain = await cdn.GetAsync(edge, path, configure: NoAcceptEncoding);
            Assert.Equal("", plain.Header("Content-Encoding"));
            Assert.Equal(Text, await plain.BodyAsync());
        }

        // The fast path too (a raw request: no Accept-Encoding at all).
        var raw = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path), [false]);
        Assert.Equal(Text, Encoding.ASCII.GetString(raw[0].Body));
    }

    [Fact]
    public async Task X_gzip_is_gzip_and_its_variant_serves_gzip_clients_only()
    {
        var path = NewPath();
        MapNaiveGzip(path);
        using var first = await cdn.GetAsync(0, path, configure: m => m.Headers.TryAddWithoutValidation("Accept-Encoding", "x-gzip"));
        Assert.Equal("gzip", first.Header("Content-Encoding"));
        using var gzipClient = await cdn.GetAsync(0, path, configure: m => m.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip"));
        Assert.StartsWith("EdgeCache-Edge; hit", gzipClient.EdgeStatus(), StringComparison.Ordinal);
        Assert.Equal(1, cdn.Origin.Count(path));

        using var plain = await cdn.GetAsync(0, path, configure: NoAcceptEncoding);
        Assert.Equal("", plain.Header("Content-Encoding"));
        Assert.Equal(Text, await plain.BodyAsync());
    }

    [Fact]
    public async Task A_gzip_copy_without_Vary_is_never_served_to_a_client_that_does_not_accept_gzip()
    {
        var path = NewPath();
        MapNaiveGzip(path, vary: false);
        using (var gz = await cdn.GetAsync(0, path, configure: m => m.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip, br"))) Assert.Equal("gzip", gz.Header("Content-Encoding"));
        using (var again = await cdn.GetAsync(0, path, configure: m => m.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip")))
        {
            Assert.StartsWith("EdgeCache-Edge; hit", again.EdgeStatus(), StringComparison.Ordinal);
        }

        // The full path (HttpClient, no Accept-Encoding) and the fast path (a raw request).
        using var plain = await cdn.GetAsync(1, path, configure: NoAcceptEncoding);
        Assert.Equal(Text, await plain.BodyAsync());
        var raw = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path), [false]);
        Assert.Equal(Text, Encoding.ASCII.GetString(raw[0].Body));
    }

    [Fact]
    public async Task A_response_without_freshness_or_validators_is_not_stored()
    {
        // The reproducer: made-up URLs answered 404 with nothing to make them reusable.
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.StatusCode = 404;
            return ctx.Response.WriteAsync("no such file");
        });
        using var first = await cdn.GetAsync(0, path);
        Assert.Equal(HttpStatusCode.NotFound, first.StatusCode);
        Assert.DoesNotContain("stored", first.Header("Cache-Status"), StringComparison.Ordinal);
        using var second = await cdn.GetAsync(0, path);
        Assert.Equal("EdgeCache-Edge; fwd=uri-miss; fwd-status=404", second.EdgeStatus());
        Assert.Equal(2, cdn.Origin.Count(path));

        // A validator makes it worth storing: it can be revalidated.
        var validated = NewPath();
        cdn.Origin.MapStatic(validated, "v", ("ETag", "\"v1\""));
        (await cdn.GetAsync(0, validated)).Dispose();
        using var stored = await cdn.GetAsync(0, validated);
        Assert.Contains("fwd=stale", stored.EdgeStatus(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST", "/healthz")]
    [InlineData("PUT", "/readyz")]
    [InlineData("DELETE", "/status.json")]
    [InlineData("POST", "/metrics")]
    [InlineData("PATCH", "/")]
    public async Task Admin_endpoints_answer_GET_and_HEAD_only(string method, string path)
    {
        var admin = cdn.Edges[0].Services.GetRequiredService<NodeEndpoints>().AdminUri!;
        using var refused = await cdn.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), new Uri(admin, path)));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, refused.StatusCode);
        Assert.Equal("GET, HEAD", refused.Content.Headers.Allow.Count > 0 ? string.Join(", ", refused.Content.Headers.Allow) : refused.Header("Allow"));
        using var head = await cdn.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, new Uri(admin, path)));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
    }

    [Theory]
    [InlineData(Topology.Site)]
    [InlineData(Topology.PostsSite)] // a POST there goes through the cache's fetch (StorePostResponses), not the pass-through
    public async Task A_malformed_chunked_request_body_is_answered_400_and_the_connection_closed(string host)
    {
        var path = NewPath();
        cdn.Origin.Map(path, async ctx =>
        {
            using var reader = new StreamReader(ctx.Request.Body);
            await ctx.Response.WriteAsync("read " + (await reader.ReadToEndAsync()).Length);
        });
        using var tcp = await RawHttp.ConnectAsync(cdn.EdgeUri(0));
        var stream = tcp.GetStream();
        await RawHttp.SendAsync(stream, $"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n\r\n");
        var response = await RawHttp.ReadResponseAsync(stream, head: false);
        Assert.StartsWith("HTTP/1.1 400", response.StatusLine, StringComparison.Ordinal);
        Assert.True(response.Header("Connection") == "close", string.Join("\n", response.SortedHeaderLines()) + "\n" + Encoding.ASCII.GetString(response.Body));
        Assert.True(await RawHttp.ClosedAsync(stream));
    }
}
