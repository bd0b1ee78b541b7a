using System.Net;
using EdgeCache.FunctionalTests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// 103 Early Hints (RFC 8297; RFC 9110 §15.2): for a host with <c>EarlyHints</c>, an HTTP/1.1 request that
/// goes past the memory tier first gets a 103 with the <c>rel=preload</c> and <c>rel=preconnect</c> members
/// of the <c>Link</c> field of the last final response the edge sent for that URL.
/// </summary>
[Collection(CdnFixtureGroup.Name)]
public sealed class EarlyHintsTests(Topology cdn)
{
    private const string Preload = "</style.css>; rel=preload; as=style";
    private const string Preconnect = "<https://fonts.example.net>; rel=\"preconnect dns-prefetch\"";
    private const string Links = Preload + ", </app.js>; rel=modulepreload, </next.html>; rel=next, " + Preconnect;

    private static string NewPath() => "/hints/" + Guid.NewGuid().ToString("N");

    private static string Get(string path, string host = Topology.HintsSite, string version = "HTTP/1.1") => $"GET {path} {version}\r\nHost: {host}\r\n\r\n";

    [Fact]
    public async Task A_page_whose_last_response_had_preload_links_gets_them_in_a_103_before_its_next_response()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "<html>page</html>", ("Cache-Control", "no-store"), ("Link", Links));

        var sent = cdn.Edges[0].Metric("edgecache.early_hints.sent");

        // Nothing is remembered before the first final response.
        var first = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Get(path), [false]);
        Assert.StartsWith("HTTP/1.1 200", first[0].StatusLine, StringComparison.Ordinal);

        var next = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Get(path), [false, false]);

        Assert.Equal("HTTP/1.1 103 Early Hints", next[0].StatusLine);
        Assert.Equal(Preload + ", " + Preconnect, next[0].Header("Link"));
        Assert.Single(next[0].Fields);
        Assert.StartsWith("HTTP/1.1 200", next[1].StatusLine, StringComparison.Ordinal);
        Assert.Equal("<html>page</html>", System.Text.Encoding.ASCII.GetString(next[1].Body));
        Assert.Equal(Links, next[1].Header("Link"));
        Assert.Equal(2, cdn.Origin.Count(path));
        Assert.Equal(1, cdn.Edges[0].Metric("edgecache.early_hints.sent") - sent);

        // A client that ignores 1xx (HttpClient) gets the final response as before.
        using var r = await cdn.GetAsync(0, path, Topology.HintsSite);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("<html>page</html>", await r.BodyAsync());
    }

    [Fact]
    public async Task The_hint_also_precedes_a_request_after_the_full_path_on_a_kept_alive_connection()
    {
        var path = NewPath();
        var other = NewPath();
        cdn.Origin.MapStatic(path, "page", ("Cache-Control", "no-store"), ("Link", Preload));
        cdn.Origin.MapStatic(other, "other", ("Cache-Control", "no-store"));
        await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Get(path), [false]);

        using var tcp = await RawHttp.ConnectAsync(cdn.EdgeUri(0));
        var stream = tcp.GetStream();
        await RawHttp.SendAsync(stream, Get(other));
        var plain = await RawHttp.ReadResponseAsync(stream, head: false);
        await RawHttp.SendAsync(stream, Get(path));
        var hint = await RawHttp.ReadResponseAsync(stream, head: false);
        var page = await RawHttp.ReadResponseAsync(stream, head: false);

        Assert.StartsWith("HTTP/1.1 200", plain.StatusLine, StringComparison.Ordinal);
        Assert.Equal("HTTP/1.1 103 Early Hints", hint.StatusLine);
        Assert.Equal(Preload, hint.Header("Link"));
        Assert.Equal("page", System.Text.Encoding.ASCII.GetString(page.Body));
    }

    [Fact]
    public async Task No_103_for_a_host_without_EarlyHints_for_HTTP_1_0_for_a_fresh_hit_or_once_the_page_drops_its_links()
    {
        var path = NewPath();
        var links = true;
        cdn.Origin.Map(path, async ctx =>
        {
            ctx.Response.Headers.CacheControl = "no-store";
            if (links) ctx.Response.Headers.Link = Preload;
            await ctx.Response.WriteAsync("page");
        });

        // A host without the setting: never.
        await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Get(path, Topology.Site), [false]);
        var off = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Get(path, Topology.Site), [false]);
        Assert.StartsWith("HTTP/1.1 200", off[0].StatusLine, StringComparison.Ordinal);

        // HTTP/1.0 clients never get a 1xx (RFC 9110 §15.2).
        await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Get(path), [false]);
        var old = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Get(path, version: "HTTP/1.0"), [false]);
        Assert.Contains(" 200 ", old[0].StatusLine, StringComparison.Ordinal);

        // The page's next response has no preload: forgotten.
        links = false;
        var hinted = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Get(path), [false, false]);
        Assert.Equal("HTTP/1.1 103 Early Hints", hinted[0].StatusLine);
        var forgotten = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Get(path), [false]);
        Assert.StartsWith("HTTP/1.1 200", forgotten[0].StatusLine, StringComparison.Ordinal);

        // A fresh stored copy is a hit: nothing to wait for, so no hint.
        var cached = NewPath();
        cdn.Origin.MapStatic(cached, "cached", ("Cache-Control", "max-age=600"), ("Link", Preload));
        await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Get(cached), [false]);
        var hit = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Get(cached), [false]);
        Assert.StartsWith("HTTP/1.1 200", hit[0].StatusLine, StringComparison.Ordinal);
        Assert.StartsWith("EdgeCache-Edge; hit", hit[0].Header("Cache-Status"), StringComparison.Ordinal);
    }
}
