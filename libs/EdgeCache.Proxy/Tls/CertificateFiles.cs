using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace EdgeCache.Proxy.Tls;

/// <summary>
/// Reads a configured certificate from its files and makes it ready for handshakes, or says, in a
/// sentence naming the setting, why it cannot be used: a file missing or unreadable, no certificate or
/// key in it, a key that does not match the certificate, a wrong password, an expired certificate, no
/// names. The one loader of start-up validation, start-up and every reload.
/// </summary>
internal static class CertificateFiles
{
    /// <summary>Thrown with a message fit for an operator (it names the setting, never a password).</summary>
    internal sealed class LoadException(string message) : Exception(message);

    /// <summary>The contents of the files, read once, so a loaded certificate and its hash describe the same bytes.</summary>
    internal sealed record Contents(byte[] Certificate, byte[]? Key, string Hash);

    public static Contents Read(CertificateSource source)
    {
        try
        {
            var cert = File.ReadAllBytes(source.Path);
            var key = source.KeyPath is { Length: > 0 } keyPath ? File.ReadAllBytes(keyPath) : null;
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            sha.AppendData(cert);
            if (key is not null) sha.AppendData(key);
            return new Contents(cert, key, Convert.ToHexString(sha.GetHashAndReset()));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new LoadException($"{source.Setting}: '{(File.Exists(source.Path) ? source.KeyPath : source.Path)}' could not be read ({ex.Message}).");
        }
    }

    public static LoadedCertificate Load(CertificateSource source, DateTimeOffset now) => Load(source, Read(source), now);

    public static LoadedCertificate Load(CertificateSource source, Contents contents, DateTimeOffset now)
    {
        var (leaf, chain) = IsPem(contents.Certificate) ? FromPem(source, contents) : FromPkcs12(source, contents);
        if (!leaf.HasPrivateKey) throw new LoadException($"{source.Setting}: '{source.Path}' holds no private key for its certificate {leaf.Subject}.");
        if (leaf.NotAfter.ToUniversalTime() <= now.UtcDateTime)
        {
            throw new LoadException($"{source.Setting}: the certificate {leaf.Subject} in '{source.Path}' expired on {leaf.NotAfter.ToUniversalTime():u}.");
        }

        var names = Names(leaf);
        if (names.Count == 0) throw new LoadException($"{source.Setting}: the certificate {leaf.Subject} in '{source.Path}' names no host (no DNS or IP subject alternative name, no common name).");
        var context = SslStreamCertificateContext.Create(leaf, chain, offline: true);
        return new LoadedCertificate
        {
            Source = source,
            Certificate = leaf,
            Names = new TlsConnectionNames(names),
            ServerOptions = ServerOptions(context),
            ContentHash = contents.Hash,
            LoadedAt = now,
        };
    }

    /// <summary>TLS 1.2 and 1.3 only, ALPN h2 then http/1.1, session resumption on, no client certificates.</summary>
    internal static SslServerAuthenticationOptions ServerOptions(SslStreamCertificateContext context) => new()
    {
        ServerCertificateContext = context,
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
        AllowTlsResume = true,
        ClientCertificateRequired = false,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
    };

    /// <summary>RFC 6125 §6.4.4: the DNS (and IP) subject alternative names; the common name only when there are no DNS names.</summary>
    internal static List<string> Names(X509Certificate2 certificate)
    {
        var names = new List<string>();
        var hasDns = false;
        foreach (var extension in certificate.Extensions)
        {
            if (extension.Oid?.Value != "2.5.29.17") continue;
            var san = extension as X509SubjectAlternativeNameExtension ?? new X509SubjectAlternativeNameExtension(extension.RawData, extension.Critical);
            foreach (var dns in san.EnumerateDnsNames())
            {
                names.Add(dns);
                hasDns = true;
            }

            foreach (var ip in san.EnumerateIPAddresses()) names.Add(ip.ToString());
        }

        if (!hasDns && certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false) is { Length: > 0 } cn && !IPAddress.TryParse(cn, out _))
        {
            names.Insert(0, cn);
        }

        return names;
    }

    private static bool IsPem(byte[] data)
    {
        var text = data.AsSpan(0, Math.Min(data.Length, 4096));
        return text.IndexOf("-----BEGIN "u8) >= 0;
    }

    private static (X509Certificate2 Leaf, X509Certificate2Collection Chain) FromPem(CertificateSource source, Contents contents)
    {
        var certText = Encoding.UTF8.GetString(contents.Certificate);
        var keyText = contents.Key is null ? certText : Encoding.UTF8.GetString(contents.Key);
        var keyFile = source.KeyPath ?? source.Path;
        var all = new X509Certificate2Collection();
        try
        {
            all.ImportFromPem(certText);
        }
        catch (CryptographicException ex)
        {
            throw new LoadException($"{source.Setting}: '{source.Path}' is not a valid PEM certificate chain ({ex.Message}).");
        }

        if (all.Count == 0) throw new LoadException($"{source.Setting}: '{source.Path}' is not a valid PEM certificate chain (no certificate in it could be read).");
        if (!keyText.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
        {
            throw new LoadException($"{source.Setting}: '{keyFile}' holds no PEM private key{(source.KeyPath is null ? " (name the key file in KeyPath)" : "")}.");
        }

        X509Certificate2 leaf;
        try
        {
            leaf = string.IsNullOrEmpty(source.Password)
                ? X509Certificate2.CreateFromPem(certText, keyText)
                : X509Certificate2.CreateFromEncryptedPem(certText, keyText, source.Password);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            throw new LoadException($"{source.Setting}: the private key in '{keyFile}' could not be used with the certificate {all[0].Subject} in '{source.Path}' (it does not match, is malformed, or needs a Password): {ex.Message}");
        }

        var chain = new X509Certificate2Collection();
        for (var i = 1; i < all.Count; i++) chain.Add(all[i]);
        return (leaf, chain);
    }

    private static (X509Certificate2 Leaf, X509Certificate2Collection Chain) FromPkcs12(CertificateSource source, Contents contents)
    {
        X509Certificate2Collection all;
        try
        {
            all = X509CertificateLoader.LoadPkcs12Collection(contents.Certificate, source.Password);
        }
        catch (CryptographicException ex)
        {
            throw new LoadException($"{source.Setting}: '{source.Path}' is neither a PEM file nor a PFX file that opens with the configured Password ({ex.Message}).");
        }

        X509Certificate2? leaf = null;
        var chain = new X509Certificate2Collection();
        foreach (var c in all)
        {
            if (leaf is null && c.HasPrivateKey) leaf = c;
            else chain.Add(c);
        }

        if (leaf is null) throw new LoadException($"{source.Setting}: '{source.Path}' holds no certificate with a private key.");
        return (leaf, chain);
    }
}
