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
