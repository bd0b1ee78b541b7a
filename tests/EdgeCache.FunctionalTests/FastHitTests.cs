using System.Net.Sockets;
using System.Text;
using EdgeCache.Engine;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// The fast hit path (EdgeCache:Listen:FastHits) answers plain memory hits without ASP.NET Core's HTTP
/// layer. These tests hold it to what the full path sends, byte for byte, and check that everything
/// it does not answer still gets the full path's answer, on the same connection and in order.
/// </summary>
[Collection(CdnFixtureGroup.Name)]
public sealed class FastHitTests(Topology cdn)
{
    private static string NewPath() => "/fast/" + Guid.NewGuid().ToString("N");

    /// <summary>Fast hits edge-1 reports (<c>/status.json</c> <c>totals.fast_hits</c>).</summary>
    private Task<long> FastHitsAsync() => cdn.Edges[0].FastHitsAsync();

    /// <summary>A Max-Forwards field is harmless on a GET (RFC 9110 §7.6.2 applies it to TRACE and
    /// OPTIONS only) and the fast path declines it, so it sends a request down the full path.</summary>
    internal const string FullPathField = "Max-Forwards: 9\r\n";

    internal static byte[] Body(int size)
    {
        var body = new byte[size];
        for (var i = 0; i < size; i++) body[i] = (byte)('a' + (i * 7 % 26));
        return body;
    }

    private string MapObject(int size) => MapObject(cdn.Origin, size);

    /// <summary>A new cacheable object of <paramref name="size"/> bytes with repeated, passed-on and consumed fields.</summary>
    internal static string MapObject(TestOrigin origin, int size)
    {
        var path = NewPath();
        var body = Body(size);
        origin.Map(path, async ctx =>
        {
            var h = ctx.Response.Headers;
            h.CacheControl = "public, max-age=600";
            h.ETag = "\"v1\"";
            h.LastModified = "Tue, 01 Jan 2030 00:00:00 GMT";
            h.ContentType = "application/octet-stream";
            h.Append("X-Multi", "one");
            h.Append("X-Multi", "two");
            h.Via = "1.1 origin-proxy";
            h["CDN-Cache-Control"] = "max-age=600";
            h["EdgeCache-Cache-Control"] = "max-age=600";
            h["Surrogate-Key"] = "fast-tests";
            ctx.Response.ContentLength = body.Length;
            await ctx.Response.Body.WriteAsync(body);
        });
        return path;
    }

    [Theory]
    [InlineData(0, "GET")]
    [InlineData(5, "GET")]
    [InlineData(20_000, "GET")] // above the copy limit: head and stored array in one write
    [InlineData(300_000, "GET")]
    [InlineData(300_000, "HEAD")]
    public async Task The_fast_path_sends_exactly_what_the_full_path_sends(int size, string method)
    {
        var path = MapObject(size);
        using (var miss = await cdn.GetAsync(0, path)) Assert.Equal(200, (int)miss.StatusCode);

        var before = await FastHitsAsync();
        var fast = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path, "Accept: */*\r\n", method), [method == "HEAD"]))[0];
        Assert.Equal(before + 1, await FastHitsAsync());
        var full = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path, "Accept: */*\r\n" + FullPathField, method), [method == "HEAD"]))[0];
        Assert.Equal(before + 1, await FastHitsAsync());

        Assert.Equal(full.StatusLine, fast.StatusLine);
        Assert.Equal(full.SortedHeaderLines(), fast.SortedHeaderLines());
        Assert.Equal(full.Body, fast.Body);
        Assert.Equal(method == "HEAD" ? [] : Body(size), fast.Body);
        Assert.Equal(size.ToString(System.Globalization.CultureInfo.InvariantCulture), fast.Header("Content-Length"));
        Assert.StartsWith("EdgeCache-Edge; hit", fast.Header("Cache-Status"), StringComparison.Ordinal);
        var via = fast.Headers("Via"); // RFC 9110 §7.6.3: each tier appends itself, in order
        Assert.Equal(3, via.Length);
        Assert.Equal("1.1 origin-proxy", via[0]);
        Assert.StartsWith("1.1 shield-", via[1], StringComparison.Ordinal);
        Assert.Equal("1.1 edge-1", via[2]);
        Assert.Equal(["one", "two"], fast.Headers("X-Multi"));
        Assert.Equal("max-age=600", fast.Header("CDN-Cache-Control")); // RFC 9213: for every CDN on the path, passed on
        Assert.Null(fast.Header("EdgeCache-Cache-Control")); // this CDN's own targeted field never leaves its edge
        Assert.Null(fast.Header("Surrogate-Key"));
        Assert.NotNull(fast.Header("Age"));
        Assert.NotNull(fast.Header("Date"));
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Vary_variants_are_selected_by_the_request_fields_as_on_the_full_path()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            ctx.Response.Headers.Vary = "Accept-Encoding, Accept-Language";
            return ctx.Response.WriteAsync($"ae={ctx.Request.Headers.AcceptEncoding} al={ctx.Request.Headers.AcceptLanguage}");
        });
        string Request(string fields, string extra = "") => RawHttp.Get(path, fields + extra);

        // Two variants stored through the full path.
        await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Request("Accept-Encoding: gzip\r\nAccept-Language: de\r\n"), [false]);
        await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Request("Accept-Language: en\r\n"), [false]);
        Assert.Equal(2, cdn.Origin.Count(path));
        var before = await FastHitsAsync();

        // Each is a fast hit for a request that selects it (field order, case and whitespace aside), and
        // the same bytes as the full path's answer.
        var gzipDe = Request("accept-language:   de\r\nACCEPT-ENCODING: gzip\r\n");
        var fast = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), gzipDe, [false]))[0];
        var full = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Request("accept-language:   de\r\nACCEPT-ENCODING: gzip\r\n", FullPathField), [false]))[0];
        Assert.Equal("ae=gzip al=de", Encoding.ASCII.GetString(fast.Body));
        Assert.Equal(full.SortedHeaderLines(), fast.SortedHeaderLines());
        Assert.Equal(full.Body, fast.Body);
        var en = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Request("Accept-Language: en\r\n"), [false]))[0];
        Assert.Equal("ae= al=en", Encoding.ASCII.GetString(en.Body));
        Assert.Equal(before + 2, await FastHitsAsync());

        // A request no variant matches is a miss on the full path (RFC 9111 §4.1).
        var fr = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Request("Accept-Language: fr\r\n"), [false]))[0];
        Assert.Equal("ae= al=fr", Encoding.ASCII.GetString(fr.Body));
        Assert.Equal(3, cdn.Origin.Count(path));
        Assert.Equal(before + 2, await FastHitsAsync());
    }

    [Fact]
    public async Task Accept_encoding_variants_are_fast_hits_only_for_clients_that_accept_the_coding()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            ctx.Response.Headers.Vary = "Accept-Encoding";
            var gzip = Vary.NormalizeAcceptEncoding(ctx.Request.Headers.AcceptEncoding).Contains("gzip", StringComparison.Ordinal);
            if (gzip) ctx.Response.Headers.ContentEncoding = "gzip";
            return ctx.Response.WriteAsync(gzip ? "pretend-gzip" : "identity");
        });
        string Request(string fields, string extra = "") => RawHttp.Get(path, fields + extra);
        await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Request("Accept-Encoding: gzip, br\r\n"), [false]);
        await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Request(""), [false]);
        Assert.Equal(2, cdn.Origin.Count(path));
        var before = await FastHitsAsync();

        var fast = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Request("Accept-Encoding: br,GZIP\r\n"), [false]))[0];
        var full = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Request("Accept-Encoding: br,GZIP\r\n", FullPathField), [false]))[0];
        Assert.Equal("pretend-gzip", Encoding.ASCII.GetString(fast.Body));
        Assert.Equal("gzip", fast.Header("Content-Encoding"));
        Assert.Equal(full.SortedHeaderLines(), fast.SortedHeaderLines());
        foreach (var refuses in new[] { "", "Accept-Encoding: gzip;q=0\r\n", "Accept-Encoding: identity\r\n" })
        {
            var plain = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), Request(refuses), [false]))[0];
            Assert.Equal("identity", Encoding.ASCII.GetString(plain.Body));
            Assert.Null(plain.Header("Content-Encoding"));
        }

        Assert.Equal(before + 4, await FastHitsAsync());
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Requests_it_does_not_answer_get_the_full_path_answer_in_order_on_the_same_connection()
    {
        var hit = MapObject(1000);
        var miss = MapObject(2000);
        using (var r = await cdn.GetAsync(0, hit)) Assert.Equal(200, (int)r.StatusCode);
        var before = await FastHitsAsync();

        // Pipelined in one write: a hit, a miss (the connection moves to the full path), a conditional, a hit.
        var host = $"Host: {Topology.Site}\r\n";
        var responses = await RawHttp.ExchangeAsync(cdn.EdgeUri(0),
            $"GET {hit} HTTP/1.1\r\n{host}\r\nGET {miss} HTTP/1.1\r\n{host}\r\nGET {hit} HTTP/1.1\r\n{host}If-None-Match: \"v1\"\r\n\r\nGET {hit} HTTP/1.1\r\n{host}\r\n",
            [false, false, false, false]);

        Assert.Equal(before + 2, await FastHitsAsync()); // the first, and the last once the full path answered the conditional
        Assert.Equal(Body(1000), responses[0].Body);
        Assert.Equal(Body(2000), responses[1].Body);
        Assert.Contains("fwd=uri-miss", responses[1].Header("Cache-Status"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 304", responses[2].StatusLine, StringComparison.Ordinal);
        Assert.Empty(responses[2].Body);
        Assert.Equal(Body(1000), responses[3].Body);
        Assert.StartsWith("EdgeCache-Edge; hit", responses[3].Header("Cache-Status"), StringComparison.Ordinal);
        Assert.Equal(1, cdn.Origin.Count(hit));
        Assert.Equal(1, cdn.Origin.Count(miss));
    }

    [Fact]
    public async Task After_the_full_path_answered_a_request_later_hits_on_the_connection_are_fast_again()
    {
        var hit = MapObject(50_000);
        using (var r = await cdn.GetAsync(0, hit)) Assert.Equal(200, (int)r.StatusCode);
        var edge = cdn.EdgeUri(0);
        using var tcp = await RawHttp.ConnectAsync(edge);
        var stream = tcp.GetStream();
        var before = await FastHitsAsync();
        for (var round = 0; round < 3; round++)
        {
            // A miss (full path), then hits: the first hit after it, and those after, are fast, in order.
            var miss = MapObject(3000 + round);
            await RawHttp.SendAsync(stream, RawHttp.Get(miss));
            Assert.Equal(Body(3000 + round), (await RawHttp.ReadResponseAsync(stream, head: false)).Body);
            for (var i = 0; i < 3; i++)
            {
                await RawHttp.SendAsync(stream, RawHttp.Get(hit));
                var response = await RawHttp.ReadResponseAsync(stream, head: false);
                Assert.Equal(Body(50_000), response.Body);
                Assert.StartsWith("EdgeCache-Edge; hit", response.Header("Cache-Status"), StringComparison.Ordinal);
            }

            // A HEAD through the full path (Max-Forwards) and a fast HEAD: no body on either.
            await RawHttp.SendAsync(stream, RawHttp.Get(hit, FullPathField, "HEAD") + RawHttp.Get(hit, method: "HEAD"));
            var full = await RawHttp.ReadResponseAsync(stream, head: true);
            var fast = await RawHttp.ReadResponseAsync(stream, head: true);
            Assert.Equal(full.SortedHeaderLines(), fast.SortedHeaderLines());
        }

        Assert.Equal(before + 12, await FastHitsAsync());

        // The same through HttpClient's pooled connections: a miss, then hits, all answered.
        var other = MapObject(1234);
        for (var i = 0; i < 5; i++)
        {
            using var r = await cdn.GetAsync(0, other);
            Assert.Equal(Body(1234), await r.Content.ReadAsByteArrayAsync());
        }

        Assert.Equal(1, cdn.Origin.Count(other));
        Assert.Equal(1, cdn.Origin.Count(hit));
    }

    [Fact]
    public async Task Several_hits_on_one_connection_a_split_request_and_connection_close_are_answered()
    {
        var path = MapObject(70_000);
        using (var r = await cdn.GetAsync(0, path)) Assert.Equal(200, (int)r.StatusCode);
        var before = await FastHitsAsync();
        var edge = cdn.EdgeUri(0);
        using var tcp = await RawHttp.ConnectAsync(edge);
        var stream = tcp.GetStream();
        for (var i = 0; i < 5; i++)
        {
            await RawHttp.SendAsync(stream, RawHttp.Get(path));
            var response = await RawHttp.ReadResponseAsync(stream, head: false);
            Assert.Equal(Body(70_000), response.Body);
        }

        Assert.Equal(before + 5, await FastHitsAsync());

        // A head that arrives in two writes: whichever path reads it, the answer is the object.
        var request = Encoding.ASCII.GetBytes(RawHttp.Get(path, "Connection: close\r\n"));
        await stream.WriteAsync(request.AsMemory(0, 20));
        await stream.FlushAsync();
        await stream.WriteAsync(request.AsMemory(20));
        var last = await RawHttp.ReadResponseAsync(stream, head: false);
        Assert.Equal(Body(70_000), last.Body);
        Assert.Equal("close", last.Header("Connection"));
        Assert.True(await RawHttp.ClosedAsync(stream), "the connection stays open after Connection: close");
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Unrouted_hosts_bad_requests_stale_and_purged_copies_are_never_fast_hits()
    {
        var path = MapObject(100);
        using (var r = await cdn.GetAsync(0, path)) Assert.Equal(200, (int)r.StatusCode);
        var before = await FastHitsAsync();

        // Never an open proxy: a host no route serves is refused, though the path is stored for another host.
        var unrouted = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), $"GET {path} HTTP/1.1\r\nHost: elsewhere.example.net\r\n\r\n", [false]);
        Assert.StartsWith("HTTP/1.1 421", unrouted[0].StatusLine, StringComparison.Ordinal);

        // Two Host fields, an obsolete line folding, HTTP/1.0 and a body on a GET: all Kestrel's to judge.
        var twoHosts = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path, "Host: other.example\r\n"), [false]);
        Assert.StartsWith("HTTP/1.1 400", twoHosts[0].StatusLine, StringComparison.Ordinal);
        var folded = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path, "X-A: b\r\n c\r\n"), [false]);
        Assert.StartsWith("HTTP/1.1 400", folded[0].StatusLine, StringComparison.Ordinal);
        Assert.Equal(before, await FastHitsAsync());

        // A soft purge marks the copy stale: it is revalidated, not served as a fast hit.
        var invalidation = cdn.Edges[0].Services.GetRequiredService<EdgeCache.Proxy.Invalidation.InvalidationService>();
        invalidation.Apply(new InvalidationEvent { Id = Guid.NewGuid().ToString("N"), Kind = InvalidationKind.Purge, Soft = true, Urls = [$"http://{Topology.Site}{path}"] }, await cdn.Edges[0].AppliedSeqAsync() + 1);
        var soft = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path), [false]);
        Assert.Equal(Body(100), soft[0].Body);
        Assert.True(soft[0].Header("Cache-Status")!.Contains("EdgeCache-Edge; fwd=stale", StringComparison.Ordinal), soft[0].Header("Cache-Status")); // revalidated upstream (the shield's copy was not purged)
        Assert.Equal(before, await FastHitsAsync());

        // A hard purge: the next request goes to the origin.
        invalidation.Apply(new InvalidationEvent { Id = Guid.NewGuid().ToString("N"), Kind = InvalidationKind.Purge, Urls = [$"http://{Topology.Site}{path}"] }, await cdn.Edges[0].AppliedSeqAsync() + 1);
        var purged = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path), [false]);
        Assert.True(purged[0].Header("Cache-Status")!.Contains("EdgeCache-Edge; fwd=uri-miss", StringComparison.Ordinal), purged[0].Header("Cache-Status"));
        Assert.Equal(Body(100), purged[0].Body);
        Assert.Equal(before, await FastHitsAsync());

        // Stale by age: max-age=1 and the clock moved on.
        var shortLived = NewPath();
        cdn.Origin.MapStatic(shortLived, "short", ("Cache-Control", "max-age=1"));
        using (var r = await cdn.GetAsync(0, shortLived)) Assert.Equal(200, (int)r.StatusCode);
        cdn.Clock.Advance(TimeSpan.FromSeconds(2));
        var stale = await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(shortLived), [false]);
        Assert.Equal("short", Encoding.ASCII.GetString(stale[0].Body));
        Assert.Equal(2, cdn.Origin.Count(shortLived));
        Assert.Equal(before, await FastHitsAsync());
    }
}

/// <summary>An edge with a short keep-alive timeout, for the fast path's idle connections.</summary>
public sealed class ShortKeepAliveTopology() : Topology(shields: 1, edges: 1)
{
    protected override Dictionary<string, string?> EdgeConfig(string id)
    {
        var c = base.EdgeConfig(id);
        c["EdgeCache:Listen:MinHitDataRate"] = (100 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        c["EdgeCache:Listen:MinHitDataRateGracePeriod"] = "00:00:01.500";
        return c;
    }

    protected override void ConfigureNode(NodeRole role, WebApplicationBuilder builder) =>
        builder.WebHost.ConfigureKestrel(k =>
        {
            // Kestrel's own MinResponseDataRate stays at its default (240 B/s): the cut comes from Listen:MinHitDataRate.
            // The keep-alive timeout is 2 s: the gate hands Kestrel a request after a quarter of it (500 ms), so
            // only a pause of the test process (its nodes run in it) of over 1.5 s at the wrong moment would let
            // Kestrel's timer close a busy connection. With a 500 ms timeout a 250 ms pause did, in CI, and
            // with 1 s and a hand-over at half of it, a pause of over 500 ms did.
            k.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(2);
        });
}

[CollectionDefinition(Name)]
public sealed class ShortKeepAliveGroup : ICollectionFixture<ShortKeepAliveTopology>
{
    public const string Name = "short-keep-alive";
}

[Collection(ShortKeepAliveGroup.Name)]
public sealed class FastHitKeepAliveTests(ShortKeepAliveTopology cdn)
{
    [Fact]
    public async Task An_idle_connection_after_fast_hits_is_closed_at_the_keep_alive_timeout()
    {
        var path = "/idle/" + Guid.NewGuid().ToString("N");
        cdn.Origin.MapStatic(path, "idle", ("Cache-Control", "max-age=600"));
        using (var r = await cdn.GetAsync(0, path)) Assert.Equal(200, (int)r.StatusCode);
        var edge = cdn.EdgeUri(0);
        var hitsBefore = await cdn.Edges[0].FastHitsAsync();
        using var tcp = await RawHttp.ConnectAsync(edge);
        var stream = tcp.GetStream();
        await RawHttp.SendAsync(stream, RawHttp.Get(path));
        Assert.Equal("idle", Encoding.ASCII.GetString((await RawHttp.ReadResponseAsync(stream, head: false)).Body));
        Assert.Equal(hitsBefore + 1, await cdn.Edges[0].FastHitsAsync());

        // On a connection that went through the full path (a miss), fast hits for longer than the
        // keep-alive timeout are not cut by Kestrel's keep-alive timer (which runs while Kestrel waits
        // for the next request, and only a request it parses resets).
        var miss = "/idle/" + Guid.NewGuid().ToString("N");
        cdn.Origin.MapStatic(miss, "miss", ("Cache-Control", "max-age=600"));
        await RawHttp.SendAsync(stream, RawHttp.Get(miss));
        Assert.Equal("miss", Encoding.ASCII.GetString((await RawHttp.ReadResponseAsync(stream, head: false)).Body));
        var fastBefore = await cdn.Edges[0].FastHitsAsync();
        // Paced (one request per 20 ms), not flat out: other test collections' nodes share the 2 cores.
        // At least 6 s (three keep-alive timeouts) and 51 requests, however slow the machine: each answer
        // read is the proof that the busy connection was not cut.
        var busy = System.Diagnostics.Stopwatch.StartNew();
        var answered = 0;
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        while ((busy.Elapsed < TimeSpan.FromSeconds(6) || answered <= 50) && await pace.WaitForNextTickAsync())
        {
            Assert.True(busy.Elapsed < TimeSpan.FromSeconds(30), $"only {answered} requests answered in 30 s");
            await RawHttp.SendAsync(stream, RawHttp.Get(path));
            Assert.Equal("idle", Encoding.ASCII.GetString((await RawHttp.ReadResponseAsync(stream, head: false)).Body));
            answered++;
        }

        // The gate leaves one request per quarter keep-alive timeout (500 ms) to Kestrel, which resets its timer.
        var toKestrel = (int)(busy.Elapsed / TimeSpan.FromMilliseconds(500)) + 4;
        Assert.InRange(await cdn.Edges[0].FastHitsAsync() - fastBefore, answered - toKestrel, answered);

        // Closed by the server (a read returns 0) well before the test's own 10 s deadline.
        var started = System.Diagnostics.Stopwatch.StartNew();
        Assert.True(await RawHttp.ClosedAsync(stream), "the idle connection was not closed");
        Assert.InRange(started.Elapsed, TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(8));
    }
}

[Collection(ShortKeepAliveGroup.Name)]
public sealed class FastHitSlowReaderTests(ShortKeepAliveTopology cdn)
{
    [Fact]
    public async Task A_client_that_does_not_read_its_answer_is_cut_off_at_the_minimum_data_rate()
    {
        var path = "/slow-reader/" + Guid.NewGuid().ToString("N");
        var body = new byte[12 * 1024 * 1024];
        cdn.Origin.Map(path, async ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            ctx.Response.ContentLength = body.Length;
            await ctx.Response.Body.WriteAsync(body);
        });
        using (var r = await cdn.GetAsync(0, path)) Assert.Equal(body.Length, (await r.Content.ReadAsByteArrayAsync()).Length);
        var node = cdn.Edges[0];
        Task<long> CutAsync() => node.StatusValueAsync<long>("totals", "fast_hits_cut");
        var (hits, cut) = (await node.FastHitsAsync(), await CutAsync());

        // A small receive window and no reads: 12 MiB cannot fit in the socket buffers, so the send waits.
        var edge = cdn.EdgeUri(0);
        using var tcp = await RawHttp.ConnectAsync(edge, receiveBufferSize: 4096);
        var stream = tcp.GetStream();
        await RawHttp.SendAsync(stream, RawHttp.Get(path));
        await Topology.WaitUntilAsync(async () => await CutAsync() > cut, "the fast hit to a client that does not read was not cut", TimeSpan.FromSeconds(15));
        Assert.Equal(hits + 1, await node.FastHitsAsync());

        // What arrived is a truncated answer, then the end of the connection: never a complete-looking one.
        var received = await RawHttp.DrainAsync(stream, TimeSpan.FromSeconds(10));
        Assert.InRange(received, 1, body.Length - 1);
    }
}

/// <summary>Raw HTTP/1.1 over a socket: the exact status line, header lines and body bytes a client gets.</summary>
internal static class RawHttp
{
    public sealed record Response(string StatusLine, IReadOnlyList<(string Name, string Value)> Fields, byte[] Body)
    {
        /// <summary>All lines of a field, joined as a list (RFC 9110 §5.3).</summary>
        public string? Header(string name) => Headers(name) is { Length: > 0 } values ? string.Join(", ", values) : null;

        public string[] Headers(string name) => [.. Fields.Where(f => f.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(f => f.Value)];

        /// <summary>Every field as "name: value" with the name lower-cased, sorted (field order carries no meaning
        /// across names; within a name it does, and a stable sort keeps it).</summary>
        public string[] SortedHeaderLines() => [.. Fields.Select(f => f.Name.ToLowerInvariant() + ": " + f.Value).OrderBy(l => l[..l.IndexOf(':')], StringComparer.Ordinal)];
    }

    /// <summary>A plain GET (or <paramref name="method"/>) of <paramref name="path"/> for the test site, with <paramref name="fields"/> (CRLF-terminated lines) added.</summary>
    public static string Get(string path, string fields = "", string method = "GET") => $"{method} {path} HTTP/1.1\r\nHost: {Topology.Site}\r\n{fields}\r\n";

    /// <summary>A new connection to <paramref name="edge"/> (Nagle off; a small receive buffer makes a slow reader).</summary>
    public static async Task<TcpClient> ConnectAsync(Uri edge, int? receiveBufferSize = null)
    {
        var tcp = new TcpClient { NoDelay = true };
        if (receiveBufferSize is { } size) tcp.ReceiveBufferSize = size;
        await tcp.ConnectAsync(edge.Host, edge.Port);
        return tcp;
    }

    public static Task SendAsync(Stream stream, string requests) => stream.WriteAsync(Encoding.ASCII.GetBytes(requests)).AsTask();

    /// <summary>Reads until the server ends the connection (or resets it); the bytes received.</summary>
    public static async Task<long> DrainAsync(Stream stream, TimeSpan timeout)
    {
        var received = 0L;
        var buffer = new byte[64 * 1024];
        try
        {
            using var cts = new CancellationTokenSource(timeout);
            int n;
            while ((n = await stream.ReadAsync(buffer, cts.Token)) > 0) received += n;
        }
        catch (IOException)
        {
        }

        return received;
    }

    /// <summary>Sends <paramref name="requests"/> in one write on a new connection and reads one response per
    /// entry of <paramref name="heads"/> (true: the request was HEAD, so no body follows).</summary>
    public static async Task<List<Response>> ExchangeAsync(Uri edge, string requests, bool[] heads)
    {
        using var tcp = await ConnectAsync(edge);
        var stream = tcp.GetStream();
        await SendAsync(stream, requests);
        var list = new List<Response>();
        foreach (var head in heads) list.Add(await ReadResponseAsync(stream, head));
        return list;
    }

    public static async Task<Response> ReadResponseAsync(Stream stream, bool head)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var status = await ReadLineAsync(stream, timeout.Token);
        var fields = new List<(string, string)>();
        while (await ReadLineAsync(stream, timeout.Token) is { Length: > 0 } line)
        {
            var colon = line.IndexOf(':');
            fields.Add((line[..colon], line[(colon + 1)..].Trim()));
        }

        var response = new Response(status, fields, []);
        var code = int.Parse(status.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        if (head || code is 204 or 304 || code < 200) return response;
        if (response.Header("Transfer-Encoding") is { } te && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            var body = new MemoryStream();
            while (true)
            {
                var size = Convert.ToInt32((await ReadLineAsync(stream, timeout.Token)).Split(';')[0], 16);
                if (size == 0)
                {
                    while ((await ReadLineAsync(stream, timeout.Token)).Length > 0)
                    {
                    }

                    break;
                }

                body.Write(await ReadExactlyAsync(stream, size, timeout.Token));
                await ReadLineAsync(stream, timeout.Token);
            }

            return response with { Body = body.ToArray() };
        }

        var length = int.Parse(response.Header("Content-Length") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        return response with { Body = await ReadExactlyAsync(stream, length, timeout.Token) };
    }

    /// <summary>True when the server closes the connection (a read returns 0) within 10 s.</summary>
    public static async Task<bool> ClosedAsync(Stream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            return await stream.ReadAsync(new byte[1], timeout.Token) == 0;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static async Task<byte[]> ReadExactlyAsync(Stream stream, int count, CancellationToken token)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer, token);
        return buffer;
    }

    private static async Task<string> ReadLineAsync(Stream stream, CancellationToken token)
    {
        // Byte by byte: the body that follows must stay in the stream.
        var line = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            await stream.ReadExactlyAsync(one, token);
            if (one[0] == '\n') return line.ToString().TrimEnd('\r');
            line.Append((char)one[0]);
        }
    }
}
