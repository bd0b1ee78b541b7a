using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EdgeCache.Proxy;
using EdgeCache.Proxy.Tls;

namespace EdgeCache.Proxy.Tests;

/// <summary>RFC 6125 name matching of a connection's certificate against a request's Host, and where the names come from.</summary>
public sealed class TlsConnectionNamesTests
{
    private static readonly TlsConnectionNames Names = new(["www.example.com", "*.img.example.com", "Shop.Example.COM.", "10.0.0.1", "::1", "w*.partial.example.com", "*.com"]);

    [Theory]
    [InlineData("www.example.com", true)]
    [InlineData("WWW.Example.Com", true)] // ASCII case-insensitive
    [InlineData("www.example.com.", true)] // a trailing dot is the same name
    [InlineData("www.example.com:8443", true)] // Host with a port
    [InlineData("www.example.com.:443", true)]
    [InlineData("shop.example.com", true)] // the certificate's own name had a trailing dot and capitals
    [InlineData("example.com", false)]
    [InlineData("other.example.com", false)]
    [InlineData("a.img.example.com", true)] // the wildcard covers one label
    [InlineData("A.IMG.example.com", true)]
    [InlineData("img.example.com", false)] // not the name under it
    [InlineData("a.b.img.example.com", false)] // nor two labels
    [InlineData(".img.example.com", false)] // nor an empty label
    [InlineData("*.img.example.com", false)] // a Host is never a pattern
    [InlineData("www.partial.example.com", false)] // partial-label wildcards cover nothing
    [InlineData("example.com.evil", false)]
    [InlineData("anything.com", false)] // a wildcard over one label covers nothing
    [InlineData("10.0.0.1", true)]
    [InlineData("10.0.0.1:443", true)]
    [InlineData("10.0.0.2", false)]
    [InlineData("[::1]", true)]
    [InlineData("[::1]:8443", true)]
    [InlineData("[::1", false)]
    [InlineData("[::1]x", false)]
    [InlineData("", false)]
    [InlineData(":443", false)]
    public void Covers_follows_RFC_6125(string host, bool covered) => Assert.Equal(covered, Names.Covers(host));

    [Fact]
    public void An_empty_certificate_covers_nothing() => Assert.False(new TlsConnectionNames([]).Covers("www.example.com"));

    [Fact]
    public void Names_come_from_the_subject_alternative_names_and_the_common_name_only_without_them()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var withSan = new CertificateRequest("CN=ignored.example.com", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("a.example.com");
        san.AddDnsName("*.b.example.com");
        san.AddIpAddress(IPAddress.Parse("192.0.2.7"));
        withSan.CertificateExtensions.Add(san.Build());
        using var a = withSan.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        Assert.Equal(["a.example.com", "*.b.example.com", "192.0.2.7"], CertificateFiles.Names(a));

        var cnOnly = new CertificateRequest("CN=legacy.example.com, O=Example", key, HashAlgorithmName.SHA256);
        using var b = cnOnly.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        Assert.Equal(["legacy.example.com"], CertificateFiles.Names(b));

        // IP addresses only: no DNS name, so the common name counts too.
        var ipOnly = new CertificateRequest("CN=ip.example.com", key, HashAlgorithmName.SHA256);
        var ips = new SubjectAlternativeNameBuilder();
        ips.AddIpAddress(IPAddress.Loopback);
        ipOnly.CertificateExtensions.Add(ips.Build());
        using var c = ipOnly.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        Assert.Equal(["ip.example.com", "127.0.0.1"], CertificateFiles.Names(c));
    }
}
