using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace EdgeCache.Proxy.Tls;

/// <summary>
/// A certificate ready for handshakes: its TLS options (built once, with a cached
/// <see cref="SslStreamCertificateContext"/>: the chain is not rebuilt per connection and resumed
/// sessions stay valid across handshakes), its names, and what the status page shows of it.
/// Immutable: a renewal builds a new one beside it.
/// </summary>
internal sealed class LoadedCertificate
{
    public required CertificateSource Source { get; init; }

    public required X509Certificate2 Certificate { get; init; }

    public required TlsConnectionNames Names { get; init; }

    public required SslServerAuthenticationOptions ServerOptions { get; init; }

    /// <summary>SHA-256 of the file contents it was loaded from, to tell whether they changed since.</summary>
    public required string ContentHash { get; init; }

    public required DateTimeOffset LoadedAt { get; init; }

    /// <summary>The first of its names: how metrics and logs refer to it.</summary>
    public string PrimaryName => Names.Names.Count > 0 ? Names.Names[0] : Certificate.Subject;

    public DateTimeOffset NotAfter => new(Certificate.NotAfter.ToUniversalTime());
}
