using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests;

/// <summary>An edge with a TLS endpoint (a self-signed certificate made for the test) and an h2c endpoint.</summary>
public class TlsTopology : Topology
{
    private readonly string _pfx = Path.Combine(Path.GetTempPath(), "edgecache-test-" + Guid.NewGuid().ToString("N") + ".pfx");

    public TlsTopology() : base(shields: 1, edges: 1)
    {
        // The certificate is made once per fixture, by the test, and trusted by its hash alone.
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=www.example.com", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(Site);
        san.AddDnsName(HintsSite);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllBytes(_pfx, cert.Export(X509ContentType.Pfx, "test"));
        Thumbprint = cert.GetCertHashString();
    }

    protected override Dictionary<string, string?> EdgeConfig(string id)
    {
        var c = base.EdgeConfig(id);
        c["EdgeCache:Listen:Traffic:1"] = "https://127.0.0.1:0";
        c["EdgeCache:Listen:Http2Cleartext:0"] = "http://127.0.0.1:0";
        c["EdgeCache:Listen:CertificatePath"] = _pfx;
        c["EdgeCache:Listen:CertificatePassword"] = "test";
        return c;
    }

    /// <summary>The test certificate's hash: the client trusts exactly this certificate.</summary>
    public string Thumbprint { get; }

    public Uri TlsUri => new($"https://{Endpoints.Traffic[1].IPEndPoint}");

    public Uri H2cUri => new($"http://{Endpoints.Traffic[2].IPEndPoint}");

    /// <summary>An HttpClient over TLS that trusts exactly the test certificate (HTTP/2 when a request asks for it).</summary>
    public HttpClient NewTlsClient() => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        SslOptions = { RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.GetCertHashString() == Thumbprint },
    })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    private NodeEndpoints Endpoints => Edges[0].Services.GetRequiredService<NodeEndpoints>();
}

[CollectionDefinition(Name)]
public sealed class TlsFixtureGroup : ICollectionFixture<TlsTopology>
{
    public const string Name = "tls";
}

[Collection(TlsFixtureGroup.Name)]
public sealed class ProtocolTests(TlsTopology cdn)
{
    [Fact]
    public async Task The_edge_terminates_TLS_and_speaks_HTTP2_by_ALPN()
    {
        cdn.Origin.MapStatic("/tls", "over tls", ("Cache-Control", "max-age=60"));
        using var client = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.GetCertHashString() == cdn.Thumbprint },
        });

        for (var i = 0; i < 2; i++)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, new Uri(cdn.TlsUri, "/tls"))
            {
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            request.Headers.Host = Topology.Site;
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpVersion.Version20, response.Version);
            Assert.Equal("over tls", await response.BodyAsync());
        }

        Assert.Equal(1, cdn.Origin.Count("/tls"));
    }

    [Fact]
    public async Task The_edge_speaks_cleartext_HTTP2_with_prior_knowledge_on_its_h2c_endpoint()
    {
        cdn.Origin.MapStatic("/h2c", "over h2c", ("Cache-Control", "max-age=60"));
        using var client = new HttpClient();
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(cdn.H2cUri, "/h2c"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.Host = Topology.Site;
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("over h2c", await response.BodyAsync());
        Assert.Contains("2 edge-1", cdn.Origin.Requests("/h2c")[0].Headers["Via"], StringComparison.Ordinal);
    }
}
