namespace EdgeCache.Proxy;

/// <summary>
/// One certificate of the https traffic endpoints (<c>EdgeCache:Listen:Certificates:N</c>). The names it
/// serves come from the certificate itself: its subject alternative names (DNS names, exact or
/// <c>*.example.com</c>, and IP addresses), or its subject's common name when it has no DNS names.
/// </summary>
public sealed class CertificateSettings
{
    /// <summary>The certificate file: PEM (the certificate, then any intermediates, and the private key
    /// unless <see cref="KeyPath"/> names another file) or PFX/PKCS#12 (with <see cref="Password"/>). Required.</summary>
    public string? Path { get; set; }

    /// <summary>The PEM private key file, when it is not in <see cref="Path"/>. Optional.</summary>
    public string? KeyPath { get; set; }

    /// <summary>The PFX password, or that of an encrypted PEM key. Never logged.</summary>
    public string? Password { get; set; }

    /// <summary>Serve this certificate to clients that send no server name (SNI), and, with
    /// <see cref="ListenSettings.UnknownSni"/> <c>Default</c>, to those asking for a name no certificate
    /// covers. At most one certificate is the default. Default false.</summary>
    public bool Default { get; set; }
}
