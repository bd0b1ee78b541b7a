using System.Net;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// A shield reaching origins over HTTPS: certificates are validated by default; a cluster may trust an
/// extra CA (the test's) through its metadata, and only that cluster; a certificate that fails is a 502
/// saying so, with the reason in the log (event 1410).
/// </summary>
public sealed class OriginTlsTests : IAsyncLifetime, IDisposable
{
    private readonly TestCertificates _ca = new("EdgeCache Test Origin CA");
    private readonly TestCertificates _otherCa = new("Somebody Else's CA");
    private readonly RecordingLoggerProvider _log = new();
    private readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(20) };
    private TestOrigin _origin = null!;
    private TestOrigin _strangeOrigin = null!;
    private WebApplication _shield = null!;
    private System.Security.Cryptography.X509Certificates.X509Certificate2 _originCert = null!;
    private System.Security.Cryptography.X509Certificates.X509Certificate2 _strangeCert = null!;

    public async Task InitializeAsync()
    {
        _originCert = _ca.Issue(["trusted.example.test", "plain.example.test"], loopbackIps: true);
        _strangeCert = _otherCa.Issue(["untrusted.example.test"], loopbackIps: true);
        _origin = await TestOrigin.StartAsync(TimeProvider.System, _originCert);
        _strangeOrigin = await TestOrigin.StartAsync(TimeProvider.System, _strangeCert);
        foreach (var o in new[] { _origin, _strangeOrigin })
        {
            o.MapStatic("/page", "over https", ("Cache-Control", "max-age=60"));
            // Reads the form before it answers: over HTTP/2 (which an https origin speaks, by ALPN) an origin
            // that answers first resets the request stream, and YARP then aborts the client's connection.
            o.Map("/form", async ctx =>
            {
                await new StreamReader(ctx.Request.Body).ReadToEndAsync();
                await ctx.Response.WriteAsync("posted");
            });
        }

        _shield = await CertificateNode.StartAsync(Settings(_ca.CaPath), _log, NodeRole.Shield);
    }

    private Dictionary<string, string?> Settings(string trustedCaFile)
    {
        var c = new Dictionary<string, string?> { ["EdgeCache:Listen:Traffic:0"] = "http://127.0.0.1:0" };
        void Route(string name, string host, TestOrigin origin, string? caFile)
        {
            c[$"ReverseProxy:Routes:{name}:ClusterId"] = name;
            c[$"ReverseProxy:Routes:{name}:Match:Path"] = "{**catch-all}";
            c[$"ReverseProxy:Routes:{name}:Match:Hosts:0"] = host;
            c[$"ReverseProxy:Clusters:{name}:Destinations:o:Address"] = origin.Uri.ToString();
            if (caFile is not null) c[$"ReverseProxy:Clusters:{name}:Metadata:EdgeCache.TrustedCaFile"] = caFile;
        }

        Route("trusted", "trusted.example.test", _origin, trustedCaFile);
        Route("plain", "plain.example.test", _origin, null); // the same origin, without its CA: not trusted
        Route("untrusted", "untrusted.example.test", _strangeOrigin, trustedCaFile); // another CA signed it
        return c;
    }

    private async Task<(HttpStatusCode Status, string Body)> SendAsync(string host, string path, HttpMethod? method = null)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Get, new Uri($"http://{_shield.Traffic()}{path}"));
        request.Headers.Host = host;
        if (method == HttpMethod.Post) request.Content = new StringContent("x=1");
        using var response = await _client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task An_origin_signed_by_the_cluster_s_trusted_CA_is_reached_over_https()
    {
        Assert.StartsWith("https://", _origin.Uri.ToString(), StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode.OK, "over https"), await SendAsync("trusted.example.test", "/page"));
        Assert.Equal((HttpStatusCode.OK, "posted"), await SendAsync("trusted.example.test", "/form", HttpMethod.Post));
        Assert.Equal(1, _origin.Count("/page"));
        Assert.Empty(_log.WithId(1410));
    }

    [Theory]
    [InlineData("plain.example.test", "GET")] // validation is on by default: the test CA is not a system root
    [InlineData("untrusted.example.test", "GET")] // the cluster's CA did not sign it
    [InlineData("untrusted.example.test", "POST")] // passed through, not fetched for the cache: the same answer
    public async Task An_origin_certificate_that_fails_validation_is_a_502_that_says_so_and_is_logged(string host, string method)
    {
        var (status, body) = await SendAsync(host, method == "POST" ? "/form" : "/page", new HttpMethod(method));
        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Contains("TLS certificate was not trusted", body, StringComparison.Ordinal);
        Assert.Equal(0, (host == "plain.example.test" ? _origin : _strangeOrigin).TotalRequests);
        Assert.Contains(_log.WithId(1410), e => e.Message.Contains(host, StringComparison.Ordinal));
        var logged = _log.WithId(1410).First(e => e.Message.Contains(host, StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, logged.Level);
        Assert.True(logged.Message.Contains("chain status PartialChain", StringComparison.Ordinal) || logged.Message.Contains("chain status UntrustedRoot", StringComparison.Ordinal), logged.Message); // the reason
    }

    [Fact]
    public async Task A_trusted_CA_file_that_cannot_be_read_stops_the_node_naming_the_setting()
    {
        var missing = Path.Combine(_ca.Directory, "no-such-ca.pem");
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var node = await CertificateNode.StartAsync(Settings(missing), role: NodeRole.Shield);
        });
        var all = string.Join(" | ", Flatten(error).Select(e => e.Message));
        Assert.Contains("ReverseProxy:Clusters:trusted:Metadata:EdgeCache.TrustedCaFile '" + missing + "'", all, StringComparison.Ordinal);
    }

    private static IEnumerable<Exception> Flatten(Exception e)
    {
        yield return e;
        var inner = e is AggregateException a ? a.InnerExceptions : e.InnerException is { } i ? [i] : (IEnumerable<Exception>)[];
        foreach (var x in inner.SelectMany(Flatten)) yield return x;
    }

    public async Task DisposeAsync()
    {
        await _shield.StopAsync();
        await _shield.DisposeAsync();
        await _origin.DisposeAsync();
        await _strangeOrigin.DisposeAsync();
        _originCert.Dispose();
        _strangeCert.Dispose();
    }

    public void Dispose()
    {
        _client.Dispose();
        _ca.Dispose();
        _otherCa.Dispose();
        _log.Dispose();
    }
}
