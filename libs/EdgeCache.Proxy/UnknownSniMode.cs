namespace EdgeCache.Proxy;

/// <summary>What a TLS client gets when the name it asks for (SNI) is covered by no configured certificate
/// (<see cref="ListenSettings.UnknownSni"/>).</summary>
public enum UnknownSniMode
{
    /// <summary>The certificate marked as default; the handshake is refused when none is marked.</summary>
    Default,

    /// <summary>The handshake is refused, even when a certificate is marked as default.</summary>
    Refuse,
}
