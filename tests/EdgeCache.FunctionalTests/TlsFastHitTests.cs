using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using EdgeCache.FunctionalTests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// The fast hit path over TLS: Kestrel runs it after its TLS middleware, on the decrypted stream, for
/// connections that chose HTTP/1.1 (or nothing) by ALPN. These tests hold it to what the full path
/// sends over TLS, byte for byte, and check that HTTP/2 on the same endpoint is still Kestrel's.
/// </summary>
[Collection(TlsFixtureGroup.Name)]
public sealed class TlsFastHitTests(TlsTopology cdn)
{
    private const string FullPathField = FastHitTests.FullPathField;

    private Task<long> FastHitsAsync() => cdn.Edges[0].FastHitsAsync();

    private Task<List<RawHttp.Response>> ExchangeAsync(string requests, bool[] heads, string? alpn = "http/1.1") =>
        RawTls.ExchangeAsync(cdn.TlsUri, cdn.Thumbprint, requests, heads, alpn);

    [Fact]
    public async Task Over_TLS_a_page_with_remembered_preload_links_gets_a_103_before_its_response()
    {
        var path = "/tls-hints/" + Guid.NewGuid().ToString("N");
        cdn.Origin.MapStatic(path, "page", ("Cache-Control", "no-store"), ("Link", "</style.css>; rel=preload; as=style"));
        var get = $"GET {path} HTTP/1.1\r\nHost: {Topology.HintsSite}\r\n\r\n";
        await ExchangeAsync(get, [false]);

        var next = await ExchangeAsync(get, [false, false]);

        Assert.Equal("HTTP/1.1 103 Early Hints", next[0].StatusLine);
        Assert.Equal("</style.css>; rel=preload; as=style", next[0].Header("Link"));
        Assert.StartsWith("HTTP/1.1 200", next[1].StatusLine, StringComparison.Ordinal);
        Assert.Equal("page", System.Text.Encoding.ASCII.GetString(next[1].Body));
    }

    [Theory]
    [InlineData(0, "GET")]
    [InlineData(5, "GET")]
    [InlineData(16_000, "GET")] // head and body across the first TLS record's end
    [InlineData(20_000, "GET")]
    [InlineData(300_000, "GET")]
    [InlineData(300_000, "HEAD")]
    public async Task Over_TLS_the_fast_path_sends_exactly_what_the_full_path_sends(int size, string method)
    {
        var path = FastHitTests.MapObject(cdn.Origin, size);
        var miss = (await ExchangeAsync(RawHttp.Get(path), [false]))[0];
        Assert.Contains("fwd=uri-miss", miss.Header("Cache-Status"), StringComparison.Ordinal);

        var before = await FastHitsAsync();
        var fast = (await ExchangeAsync(RawHttp.Get(path, "Accept: */*\r\n", method), [method == "HEAD"]))[0];
        Assert.Equal(before + 1, await FastHitsAsync());
        var full = (await ExchangeAsync(RawHttp.Get(path, "Accept: */*\r\n" + FullPathField, method), [method == "HEAD"]))[0];
        Assert.Equal(before + 1, await FastHitsAsync());

        Assert.Equal(full.StatusLine, fast.StatusLine);
        Assert.Equal(full.SortedHeaderLines(), fast.SortedHeaderLines());
        Assert.Equal(full.Body, fast.Body);
        Assert.Equal(method == "HEAD" ? [] : FastHitTests.Body(size), fast.Body);
        Assert.StartsWith("EdgeCache-Edge; hit", fast.Header("Cache-Status"), StringComparison.Ordinal);
        Assert.Equal(["1.1 origin-proxy", "1.1 shield-a", "1.1 edge-1"], fast.Headers("Via"));
        Assert.NotNull(fast.Header("Age"));
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task A_connection_without_ALPN_is_HTTP11_and_gets_fast_hits()
    {
        var path = FastHitTests.MapObject(cdn.Origin, 1000);
        await ExchangeAsync(RawHttp.Get(path), [false]);
        var before = await FastHitsAsync();
        var fast = (await ExchangeAsync(RawHttp.Get(path), [false], alpn: null))[0];
        Assert.Equal(FastHitTests.Body(1000), fast.Body);
        Assert.Equal(before + 1, await FastHitsAsync());
    }

    [Fact]
    public async Task A_copy_stored_over_plain_HTTP_is_not_a_TLS_hit_as_on_the_full_path()
    {
        // The cache key has the scheme (the full path's rule): the fast path keys TLS requests by https.
        var path = FastHitTests.MapObject(cdn.Origin, 100);
        using (var plain = await cdn.GetAsync(0, path)) Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        var before = await FastHitsAsync();
        var tls = (await ExchangeAsync(RawHttp.Get(path), [false]))[0];
        Assert.Contains("fwd=uri-miss", tls.Header("Cache-Status"), StringComparison.Ordinal);
        Assert.Equal(before, await FastHitsAsync());
        var hit = (await ExchangeAsync(RawHttp.Get(path), [false]))[0];
        Assert.StartsWith("EdgeCache-Edge; hit", hit.Header("Cache-Status"), StringComparison.Ordinal);
        Assert.Equal(before + 1, await FastHitsAsync());
    }

    [Fact]
    public async Task Pipelined_requests_it_does_not_answer_get_the_full_path_answer_in_order_and_later_hits_are_fast_again()
    {
        var hit = FastHitTests.MapObject(cdn.Origin, 30_000);
        var miss = FastHitTests.MapObject(cdn.Origin, 2000);
        await ExchangeAsync(RawHttp.Get(hit), [false]);
        var before = await FastHitsAsync();

        // One write: a hit, a miss (Kestrel takes the connection), a conditional (304), a HEAD and a
        // hit (answered by the gate after Kestrel's answer, into the TLS pipe).
        var responses = await ExchangeAsync(
            RawHttp.Get(hit) + RawHttp.Get(miss) + RawHttp.Get(hit, "If-None-Match: \"v1\"\r\n") + RawHttp.Get(hit, method: "HEAD") + RawHttp.Get(hit),
            [false, false, false, true, false]);

        Assert.Equal(FastHitTests.Body(30_000), responses[0].Body);
        Assert.Equal(FastHitTests.Body(2000), responses[1].Body);
        Assert.Contains("fwd=uri-miss", responses[1].Header("Cache-Status"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 304", responses[2].StatusLine, StringComparison.Ordinal);
        Assert.Empty(responses[3].Body);
        Assert.Equal("30000", responses[3].Header("Content-Length"));
        Assert.Equal(FastHitTests.Body(30_000), responses[4].Body);
        Assert.Equal(responses[0].SortedHeaderLines(), responses[4].SortedHeaderLines());
        Assert.Equal(before + 3, await FastHitsAsync()); // the first, then the HEAD and the hit after the 304
        Assert.Equal(1, cdn.Origin.Count(hit));
        Assert.Equal(1, cdn.Origin.Count(miss));
    }

    [Fact]
    public async Task Several_hits_a_split_request_and_connection_close_over_one_TLS_connection()
    {
        var path = FastHitTests.MapObject(cdn.Origin, 70_000);
        await ExchangeAsync(RawHttp.Get(path), [false]);
        var before = await FastHitsAsync();
        await using var connection = await RawTls.ConnectAsync(cdn.TlsUri, cdn.Thumbprint);
        var stream = connection.Stream;
        for (var i = 0; i < 5; i++)
        {
            await RawHttp.SendAsync(stream, RawHttp.Get(path));
            Assert.Equal(FastHitTests.Body(70_000), (await RawHttp.ReadResponseAsync(stream, head: false)).Body);
        }

        Assert.Equal(before + 5, await FastHitsAsync());
        var request = Encoding.ASCII.GetBytes(RawHttp.Get(path, "Connection: close\r\n"));
        await stream.WriteAsync(request.AsMemory(0, 20));
        await stream.FlushAsync();
        await stream.WriteAsync(request.AsMemory(20));
        var last = await RawHttp.ReadResponseAsync(stream, head: false);
        Assert.Equal(FastHitTests.Body(70_000), last.Body);
        Assert.Equal("close", last.Header("Connection"));
        Assert.True(await RawHttp.ClosedAsync(stream), "the TLS connection stays open after Connection: close");
    }

    [Fact]
    public async Task Vary_variants_over_TLS_are_selected_as_on_the_full_path()
    {
        var path = "/fast-tls/" + Guid.NewGuid().ToString("N");
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            ctx.Response.Headers.Vary = "Accept-Encoding, Accept-Language";
            return ctx.Response.WriteAsync($"ae={ctx.Request.Headers.AcceptEncoding} al={ctx.Request.Headers.AcceptLanguage}");
        });
        await ExchangeAsync(RawHttp.Get(path, "Accept-Encoding: gzip\r\nAccept-Language: de\r\n"), [false]);
        await ExchangeAsync(RawHttp.Get(path, "Accept-Language: en\r\n"), [false]);
        Assert.Equal(2, cdn.Origin.Count(path));
        var before = await FastHitsAsync();

        var fast = (await ExchangeAsync(RawHttp.Get(path, "accept-language: de\r\nACCEPT-ENCODING: gzip\r\n"), [false]))[0];
        var full = (await ExchangeAsync(RawHttp.Get(path, "accept-language: de\r\nACCEPT-ENCODING: gzip\r\n" + FullPathField), [false]))[0];
        Assert.Equal("ae=gzip al=de", Encoding.ASCII.GetString(fast.Body));
        Assert.Equal(full.SortedHeaderLines(), fast.SortedHeaderLines());
        var en = (await ExchangeAsync(RawHttp.Get(path, "Accept-Language: en\r\n"), [false]))[0];
        Assert.Equal("ae= al=en", Encoding.ASCII.GetString(en.Body));
        Assert.Equal(before + 2, await FastHitsAsync());
        var fr = (await ExchangeAsync(RawHttp.Get(path, "Accept-Language: fr\r\n"), [false]))[0];
        Assert.Equal("ae= al=fr", Encoding.ASCII.GetString(fr.Body));
        Assert.Equal(3, cdn.Origin.Count(path));
        Assert.Equal(before + 2, await FastHitsAsync());
    }

    [Fact]
    public async Task HTTP2_on_the_same_endpoint_is_served_by_Kestrel_with_the_same_cache_fields()
    {
        var path = FastHitTests.MapObject(cdn.Origin, 5000);
        var h1 = (await ExchangeAsync(RawHttp.Get(path), [false]))[0];
        Assert.Contains("fwd=uri-miss", h1.Header("Cache-Status"), StringComparison.Ordinal);
        var fastHit = (await ExchangeAsync(RawHttp.Get(path), [false]))[0];
        var before = await FastHitsAsync();

        using var client = cdn.NewTlsClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(cdn.TlsUri, path)) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        request.Headers.Host = Topology.Site;
        using var h2 = await client.SendAsync(request);
        Assert.Equal(HttpVersion.Version20, h2.Version);
        Assert.Equal(FastHitTests.Body(5000), await h2.Content.ReadAsByteArrayAsync());
        Assert.Equal(before, await FastHitsAsync()); // Kestrel's HTTP/2, not the fast path

        Assert.Equal(fastHit.Header("Cache-Status"), string.Join(", ", h2.Headers.GetValues("Cache-Status")));
        Assert.Equal(fastHit.Header("Age"), h2.Headers.Age?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // Via names the protocol each tier received the response in (RFC 9110 §7.6.3): HTTP/1.1 from the
        // shield, whichever protocol the client speaks.
        Assert.Equal(fastHit.Headers("Via"), h2.Headers.GetValues("Via"));
        Assert.Equal(fastHit.Header("ETag"), h2.Headers.ETag?.ToString());
        Assert.Equal(1, cdn.Origin.Count(path));
    }
}

/// <summary>Raw HTTP/1.1 over TLS to an edge that presents the test certificate.</summary>
internal static class RawTls
{
    public sealed class Connection(TcpClient tcp, SslStream stream) : IAsyncDisposable
    {
        public SslStream Stream => stream;

        public async ValueTask DisposeAsync()
        {
            await stream.DisposeAsync();
            tcp.Dispose();
        }
    }

    /// <summary>A TLS connection offering <paramref name="alpn"/> (none when null), trusting only the certificate with <paramref name="thumbprint"/>.</summary>
    public static async Task<Connection> ConnectAsync(Uri endpoint, string thumbprint, string? alpn = "http/1.1")
    {
        var tcp = await RawHttp.ConnectAsync(endpoint);
        var ssl = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = Topology.Site,
            ApplicationProtocols = alpn is null ? null : [new SslApplicationProtocol(alpn)],
            RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.GetCertHashString() == thumbprint,
        });
        return new Connection(tcp, ssl);
    }

    public static async Task<List<RawHttp.Response>> ExchangeAsync(Uri endpoint, string thumbprint, string requests, bool[] heads, string? alpn = "http/1.1")
    {
        await using var connection = await ConnectAsync(endpoint, thumbprint, alpn);
        await RawHttp.SendAsync(connection.Stream, requests);
        var list = new List<RawHttp.Response>();
        foreach (var head in heads) list.Add(await RawHttp.ReadResponseAsync(connection.Stream, head));
        return list;
    }
}

/// <summary>A TLS edge whose fast hits must be read at 100 MiB/s after 1.5 s (Listen:MinHitDataRate).</summary>
public sealed class SlowReaderTlsTopology : TlsTopology
{
    protected override Dictionary<string, string?> EdgeConfig(string id)
    {
        var c = base.EdgeConfig(id);
        c["EdgeCache:Listen:MinHitDataRate"] = (100 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        c["EdgeCache:Listen:MinHitDataRateGracePeriod"] = "00:00:01.500";
        return c;
    }
}

public sealed class TlsFastHitSlowReaderTests(SlowReaderTlsTopology cdn) : IClassFixture<SlowReaderTlsTopology>
{
    [Fact]
    public async Task Over_TLS_a_client_that_does_not_read_its_answer_is_cut_off_at_the_minimum_data_rate()
    {
        var path = "/slow-tls-reader/" + Guid.NewGuid().ToString("N");
        var body = new byte[12 * 1024 * 1024];
        cdn.Origin.Map(path, async ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            ctx.Response.ContentLength = body.Length;
            await ctx.Response.Body.WriteAsync(body);
        });
        await RawTls.ExchangeAsync(cdn.TlsUri, cdn.Thumbprint, RawHttp.Get(path), [false]);
        var node = cdn.Edges[0];
        Task<long> CutAsync() => node.StatusValueAsync<long>("totals", "fast_hits_cut");
        var (hits, cut) = (await node.FastHitsAsync(), await CutAsync());

        // A small receive window and no reads: the SslStream's writes wait once Kestrel's socket buffer is full.
        var tcp = await RawHttp.ConnectAsync(cdn.TlsUri, receiveBufferSize: 4096);
        var ssl = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        await using var connection = new RawTls.Connection(tcp, ssl);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = Topology.Site,
            ApplicationProtocols = [SslApplicationProtocol.Http11],
            RemoteCertificateValidationCallback = (_, c, _, _) => c?.GetCertHashString() == cdn.Thumbprint,
        });
        await RawHttp.SendAsync(ssl, RawHttp.Get(path));
        await Topology.WaitUntilAsync(async () => await CutAsync() > cut, "the fast TLS hit to a client that does not read was not cut", TimeSpan.FromSeconds(15));
        Assert.Equal(hits + 1, await node.FastHitsAsync());

        // What arrives is a truncated answer, then the end of the connection.
        var received = await RawHttp.DrainAsync(ssl, TimeSpan.FromSeconds(10));
        Assert.InRange(received, 0, body.Length - 1);
    }
}
