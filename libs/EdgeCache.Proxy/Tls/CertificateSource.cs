namespace EdgeCache.Proxy.Tls;

/// <summary>One configured certificate: where its files are and the setting that names them (for messages).</summary>
internal sealed record CertificateSource(string Setting, string Path, string? KeyPath, string? Password, bool IsDefault)
{
    /// <summary>Every certificate the listen settings configure, in order: <c>Certificates:0</c>, <c>:1</c> … and then
    /// the single <c>CertificatePath</c>, marked as the default.</summary>
    public static IReadOnlyList<CertificateSource> From(ListenSettings listen)
    {
        const string S = EdgeCacheOptions.SectionName + ":Listen";
        var sources = new List<CertificateSource>(listen.Certificates.Length + 1);
        for (var i = 0; i < listen.Certificates.Length; i++)
        {
            var c = listen.Certificates[i];
            sources.Add(new CertificateSource($"{S}:Certificates:{i}", c?.Path ?? "", c?.KeyPath, c?.Password, c?.Default == true));
        }

        if (!string.IsNullOrEmpty(listen.CertificatePath))
        {
            sources.Add(new CertificateSource($"{S}:CertificatePath", listen.CertificatePath, null, listen.CertificatePassword, IsDefault: true));
        }

        return sources;
    }

    /// <summary>The files to watch for changes.</summary>
    public IEnumerable<string> Files => KeyPath is { Length: > 0 } key ? [Path, key] : [Path];

    /// <summary>Passwords stay out of logs, status pages and exception messages.</summary>
    public override string ToString() => $"{Setting} ({Path})";
}
