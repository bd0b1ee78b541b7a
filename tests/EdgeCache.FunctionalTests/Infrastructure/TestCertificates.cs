using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>
/// A test certificate authority and the leaf certificates it signs, made with
/// <see cref="CertificateRequest"/> (ECDSA P-256: quick to make), written as PEM or PFX files to a
/// temporary directory. Clients trust the CA through <see cref="Trusts"/>, never the system store.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private readonly ECDsa _caKey;
    private int _serial;

    public TestCertificates(string name = "EdgeCache Test CA")
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("edgecache-certs-").FullName;
        _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        Ca = request.CreateSelfSigned(now.AddDays(-30), now.AddYears(5));
        CaPath = Path.Combine(Directory, "ca-" + Guid.NewGuid().ToString("N")[..6] + ".pem");
        File.WriteAllText(CaPath, Ca.ExportCertificatePem());
    }

    public string Directory { get; }

    public X509Certificate2 Ca { get; }

    /// <summary>The CA certificate as a PEM file.</summary>
    public string CaPath { get; }

    /// <summary>A leaf certificate (with its key) for the DNS <paramref name="names"/> (and loopback IPs
    /// if <paramref name="loopbackIps"/>), valid from yesterday for <paramref name="lifetime"/>
    /// (default 90 days). <paramref name="subject"/> defaults to the first name; with
    /// <paramref name="noSan"/> the certificate has no subject alternative names at all.</summary>
    public X509Certificate2 Issue(string[] names, TimeSpan? lifetime = null, bool loopbackIps = false, string? subject = null, bool noSan = false, DateTimeOffset? notBefore = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={subject ?? names[0]}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        if (!noSan)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var n in names) san.AddDnsName(n);
            if (loopbackIps)
            {
                san.AddIpAddress(IPAddress.Loopback);
                san.AddIpAddress(IPAddress.IPv6Loopback);
            }

            request.CertificateExtensions.Add(san.Build());
        }

        var from = notBefore ?? DateTimeOffset.UtcNow.AddDays(-1);
        var serial = BitConverter.GetBytes(Interlocked.Increment(ref _serial) + Random.Shared.Next(1, 1 << 20) * 1000L);
        using var issued = request.Create(Ca, from, from + (lifetime ?? TimeSpan.FromDays(90)), serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>Writes the certificate (then the CA, as its chain) and its key as two PEM files; returns their paths.</summary>
    public (string Certificate, string Key) WritePem(X509Certificate2 certificate, string name)
    {
        var cert = Path.Combine(Directory, name + ".crt.pem");
        var key = Path.Combine(Directory, name + ".key.pem");
        WritePem(certificate, cert, key);
        return (cert, key);
    }

    /// <summary>Writes the certificate chain and key to the given paths, each by a rename, as renewal tools do.</summary>
    public static void WritePem(X509Certificate2 certificate, string certificatePath, string keyPath)
    {
        using var key = certificate.GetECDsaPrivateKey()!;
        ReplaceFile(keyPath, key.ExportPkcs8PrivateKeyPem());
        ReplaceFile(certificatePath, certificate.ExportCertificatePem() + "\n");
    }

    /// <summary>Writes the certificate with its key as a PFX file protected by <paramref name="password"/>; returns its path.</summary>
    public string WritePfx(X509Certificate2 certificate, string name, string password)
    {
        var path = Path.Combine(Directory, name + ".pfx");
        ReplaceFile(path, certificate.Export(X509ContentType.Pkcs12, password));
        return path;
    }

    public static void ReplaceFile(string path, string contents) => ReplaceFile(path, System.Text.Encoding.UTF8.GetBytes(contents));

    /// <summary>Writes a new file beside <paramref name="path"/> and renames it over it: readers see the old or the new contents, never half.</summary>
    public static void ReplaceFile(string path, byte[] contents)
    {
        var temp = path + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        File.WriteAllBytes(temp, contents);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>True when <paramref name="certificate"/> chains to this CA (a client's check, without the system store).</summary>
    public bool Trusts(X509Certificate? certificate)
    {
        if (certificate is null) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }

    public void Dispose()
    {
        _caKey.Dispose();
        Ca.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
