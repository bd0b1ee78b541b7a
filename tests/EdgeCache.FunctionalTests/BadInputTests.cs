using System.Net.Sockets;
using System.Text;
using EdgeCache.FunctionalTests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.FunctionalTests;

/// <summary>Bad and hostile input, sent as raw bytes (an HTTP client would refuse to send most of it).</summary>
[Collection(CdnFixtureGroup.Name)]
public sealed class BadInputTests(Topology cdn)
{
    private async Task<string> Raw(string request)
    {
        var edge = cdn.EdgeUri(0);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(edge.Host, edge.Port);
        using var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await reader.ReadLineAsync(timeout.Token) ?? "";
    }

    private static string NewPath() => "/bad/" + Guid.NewGuid().ToString("N");

    /// <summary>Sends one raw GET (Connection: close) and returns the status line, the Cache-Status and the body.</summary>
    private async Task<(string Status, string CacheStatus, string Body)> RawGet(string target, string host = Topology.Site)
    {
        var edge = cdn.EdgeUri(0);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(edge.Host, edge.Port);
        using var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var response = await reader.ReadToEndAsync(timeout.Token);
        var split = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = response[..split].Split("\r\n");
        var cacheStatus = string.Join(", ", head.Where(h => h.StartsWith("Cache-Status:", StringComparison.OrdinalIgnoreCase)).Select(h => h[13..].Trim()));
        var body = response[(split + 4)..];
        var chunked = head.Any(h => h.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase) && h.Contains("chunked", StringComparison.OrdinalIgnoreCase));
        return (head[0], cacheStatus, chunked ? Dechunk(body) : body);
    }

    /// <summary>Decodes a chunked body (RFC 9112 §7.1): hex size line, data, CRLF, until a zero size.</summary>
    private static string Dechunk(string chunked)
    {
        var sb = new StringBuilder();
        var i = 0;
        while (i < chunked.Length)
        {
            var eol = chunked.IndexOf("\r\n", i, StringComparison.Ordinal);
            var size = Convert.ToInt32(chunked[i..eol].Split(';')[0].Trim(), 16);
            if (size == 0) break;
            sb.Append(chunked, eol + 2, size);
            i = eol + 2 + size + 2;
        }

        return sb.ToString();
    }

    private static bool EdgeHit(string cacheStatus) => cacheStatus[cacheStatus.LastIndexOf("EdgeCache-Edge", StringComparison.Ordinal)..].StartsWith("EdgeCache-Edge; hit", StringComparison.Ordinal);

    [Fact]
    public async Task Dot_segments_and_encoded_unreserved_characters_map_to_one_key_as_RFC_3986_says()
    {
        var dir = NewPath();
        cdn.Origin.MapStatic(dir + "/obj", "the object", ("Cache-Control", "max-age=600"), ("Content-Type", "text/plain"));
        cdn.Origin.MapStatic(dir + "/~user", "tilde", ("Cache-Control", "max-age=600"), ("Content-Type", "text/plain"));

        // §6.2.2.3: dot segments are removed before the path is keyed or forwarded.
        var first = await RawGet(dir + "/x/../obj");
        Assert.StartsWith("HTTP/1.1 200", first.Status, StringComparison.Ordinal);
        Assert.EndsWith("the object", first.Body, StringComparison.Ordinal);
        var plain = await RawGet(dir + "/obj");
        Assert.True(EdgeHit(plain.CacheStatus), plain.CacheStatus);
        var dot = await RawGet(dir + "/./obj");
        Assert.True(EdgeHit(dot.CacheStatus), dot.CacheStatus);
        Assert.Equal(1, cdn.Origin.Count(dir + "/obj"));

        // §6.2.2.2: a percent-encoded unreserved character is the character itself.
        Assert.EndsWith("tilde", (await RawGet(dir + "/%7Euser")).Body, StringComparison.Ordinal);
        var tilde = await RawGet(dir + "/~user");
        Assert.True(EdgeHit(tilde.CacheStatus), tilde.CacheStatus);
        Assert.Equal(1, cdn.Origin.Count(dir + "/~user"));
    }

    [Fact]
    public async Task An_encoded_slash_is_a_different_resource_from_a_slash()
    {
        var dir = NewPath();
        cdn.Origin.MapStatic(dir + "/a/b", "two segments", ("Cache-Control", "max-age=600"), ("Content-Type", "text/plain"));
        cdn.Origin.MapStatic(dir + "/a%2Fb", "one segment", ("Cache-Control", "max-age=600"), ("Content-Type", "text/plain"));

        Assert.EndsWith("two segments", (await RawGet(dir + "/a/b")).Body, StringComparison.Ordinal);
        var encoded = await RawGet(dir + "/a%2Fb");
        Assert.EndsWith("one segment", encoded.Body, StringComparison.Ordinal);
        Assert.False(EdgeHit(encoded.CacheStatus), "the encoded slash did not hit the two-segment object: " + encoded.CacheStatus);
        var lower = await RawGet(dir + "/a%2fb");
        Assert.True(EdgeHit(lower.CacheStatus), "hex case is not significant (§6.2.2.1): " + lower.CacheStatus);
        Assert.EndsWith("one segment", lower.Body, StringComparison.Ordinal);
        Assert.Equal(1, cdn.Origin.Count(dir + "/a/b"));
    }

    [Fact]
    public async Task Host_case_is_one_key_and_one_hosts_object_is_never_served_for_another()
    {
        var path = NewPath();
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            return ctx.Response.WriteAsync("for " + ctx.Request.Host.Host);
        });

        Assert.EndsWith("for www.example.com", (await RawGet(path)).Body, StringComparison.Ordinal);
        var upper = await RawGet(path, "WWW.Example.COM");
        Assert.True(EdgeHit(upper.CacheStatus), upper.CacheStatus); // RFC 3986 §6.2.2.1: the host is case-insensitive
        Assert.EndsWith("for www.example.com", upper.Body, StringComparison.Ordinal);

        var other = await RawGet(path, "img.example.com");
        Assert.EndsWith("for img.example.com", other.Body, StringComparison.Ordinal);
        Assert.False(EdgeHit(other.CacheStatus), other.CacheStatus);
        var withPort = await RawGet(path, "img.example.com:80");
        Assert.EndsWith("for img.example.com", withPort.Body, StringComparison.Ordinal);
        Assert.Equal(2, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task Conflicting_Content_Length_and_Transfer_Encoding_is_rejected_and_never_forwarded()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x");
        var status = await Raw($"POST {path} HTTP/1.1\r\nHost: {Topology.Site}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: {Topology.Site}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 400", status, StringComparison.Ordinal);
        Assert.Equal(0, cdn.Origin.Count(path));
        Assert.Equal(0, cdn.Origin.Count("/smuggled"));
    }

    [Fact]
    public async Task Duplicate_Content_Length_is_rejected_and_never_forwarded()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "x");
        var status = await Raw($"POST {path} HTTP/1.1\r\nHost: {Topology.Site}\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde");
        Assert.StartsWith("HTTP/1.1 400", status, StringComparison.Ordinal);
        Assert.Equal(0, cdn.Origin.Count(path));
    }

    [Fact]
    public async Task An_absolute_form_target_naming_another_host_is_refused()
    {
        var before = cdn.Origin.TotalRequests;
        var status = await Raw($"GET http://evil.example.net/steal HTTP/1.1\r\nHost: {Topology.Site}\r\n\r\n");
        Assert.Matches("^HTTP/1.1 4(00|21) ", status);
        var status2 = await Raw("GET http://evil.example.net/steal HTTP/1.1\r\nHost: evil.example.net\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 421", status2, StringComparison.Ordinal);
        Assert.Equal(before, cdn.Origin.TotalRequests);
    }

    [Fact]
    public async Task CONNECT_is_refused()
    {
        var status = await Raw("CONNECT evil.example.net:443 HTTP/1.1\r\nHost: evil.example.net:443\r\n\r\n");
        Assert.Matches("^HTTP/1.1 (400|405|421) ", status);
    }

    [Fact]
    public async Task Oversized_request_headers_get_431()
    {
        var status = await Raw($"GET / HTTP/1.1\r\nHost: {Topology.Site}\r\nX-Big: {new string('a', 40_000)}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 431", status, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Many_or_overlapping_ranges_never_amplify_upstream_traffic()
    {
        var path = NewPath();
        cdn.Origin.MapStatic(path, "0123456789abcdefghij", ("Cache-Control", "max-age=600"));
        using var many = await cdn.GetAsync(0, path, configure: m => m.Headers.TryAddWithoutValidation("Range", "bytes=" + string.Join(",", Enumerable.Range(0, 200).Select(i => $"{i % 20}-{i % 20}"))));
        using var overlapping = await cdn.GetAsync(0, path, configure: m => m.Headers.TryAddWithoutValidation("Range", "bytes=0-5,3-9,8-12"));

        Assert.Equal(System.Net.HttpStatusCode.OK, many.StatusCode); // too many ranges: the whole object, once
        Assert.Equal("0123456789abcdefghij", await many.BodyAsync());
        Assert.Equal(System.Net.HttpStatusCode.PartialContent, overlapping.StatusCode); // coalesced into one
        Assert.Equal("0123456789abc", await overlapping.BodyAsync());
        Assert.Equal(1, cdn.Origin.Count(path));
    }

    [Theory]
    [InlineData("private, max-age=600", null)]
    [InlineData("no-store", null)]
    [InlineData("max-age=600", "session=abc")]
    public async Task Cache_deception_a_static_looking_path_is_not_stored_when_the_response_is_personal(string cacheControl, string? cookie)
    {
        var path = "/account/profile/" + Guid.NewGuid().ToString("N") + "/x.css";
        cdn.Origin.Map(path, ctx =>
        {
            ctx.Response.Headers.CacheControl = cacheControl;
            if (cookie is not null) ctx.Response.Headers.SetCookie = cookie;
            return ctx.Response.WriteAsync("account page of " + ctx.Request.Headers["X-User"]);
        });

        using var victim = await cdn.GetAsync(0, path, configure: m => m.Headers.TryAddWithoutValidation("X-User", "victim"));
        using var attacker = await cdn.GetAsync(0, path, configure: m => m.Headers.TryAddWithoutValidation("X-User", "attacker"));

        Assert.Equal("account page of attacker", await attacker.BodyAsync());
        Assert.Equal(2, cdn.Origin.Count(path));
    }
}
