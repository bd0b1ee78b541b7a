namespace EdgeCache.Proxy;

/// <summary>
/// The host names the certificate of a TLS connection covers, for the misdirected-request rule: a
/// request whose Host the connection's certificate does not cover (a client reusing a connection for
/// another host) is answered 421 Misdirected Request (RFC 9110 §15.5.20).
/// </summary>
/// <remarks>
/// <para>One immutable instance per loaded certificate, shared by all of its connections. The TLS
/// handshake callback sets it as a feature of the connection when it picks the certificate, so a
/// connection keeps the names it was set up with when a renewal swaps the certificate. Read it with
/// <c>connection.Features.Get&lt;TlsConnectionNames&gt;()</c> in connection middleware (the fast TLS hit
/// path, which runs after Kestrel's TLS middleware on the same <c>ConnectionContext</c>) or with
/// <c>HttpContext.Features.Get&lt;TlsConnectionNames&gt;()</c> in the full path (Kestrel falls back to the
/// connection's features). No feature: a plain-HTTP connection, nothing to check.</para>
/// <para>Matching follows RFC 6125 §6.4: ASCII case-insensitive; a trailing dot and a port are ignored;
/// <c>*.example.com</c> covers exactly one more label (<c>a.example.com</c>, not <c>example.com</c> nor
/// <c>a.b.example.com</c>); partial-label wildcards (<c>w*.example.com</c>) and wildcards over a single
/// label (<c>*.com</c>) cover nothing. IP literals (<c>127.0.0.1</c>, <c>[::1]</c>) match the certificate's
/// IP address names. International names are compared in their A-label (punycode) form only.
/// <see cref="Covers"/> allocates nothing: fit for the hit path.</para>
/// </remarks>
public sealed class TlsConnectionNames
{
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _exact;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _wildcardParents;

    /// <param name="names">The certificate's names as it holds them (<c>www.example.com</c>, <c>*.example.com</c>, <c>10.0.0.1</c>).</param>
    public TlsConnectionNames(IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var exact = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var wildcards = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var all = new List<string>();
        foreach (var raw in names)
        {
            if (string.IsNullOrWhiteSpace(raw)) continue;
            var name = raw.Trim().TrimEnd('.').ToLowerInvariant();
            all.Add(name);
            if (WildcardParent(name) is { } parent) wildcards.Add(parent);
            else if (!name.Contains('*', StringComparison.Ordinal)) exact.Add(name);
        }

        Names = all;
        _exact = exact.GetAlternateLookup<ReadOnlySpan<char>>();
        _wildcardParents = wildcards.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The names, lower-cased, in the certificate's order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>True when the certificate covers <paramref name="host"/>: a Host header or :authority
    /// value (a port is allowed) or a bare name.</summary>
    public bool Covers(ReadOnlySpan<char> host)
    {
        var name = HostName(host);
        if (name.IsEmpty || name.Contains('*')) return false;
        if (_exact.Contains(name)) return true;
        var dot = name.IndexOf('.');
        return dot > 0 && dot < name.Length - 1 && _wildcardParents.Contains(name[(dot + 1)..]);
    }

    /// <summary>The name in a Host value: without port, brackets (IPv6) or trailing dot; empty when malformed.</summary>
    internal static ReadOnlySpan<char> HostName(ReadOnlySpan<char> host)
    {
        if (host.StartsWith('['))
        {
            var close = host.IndexOf(']');
            if (close < 0 || (close + 1 < host.Length && host[close + 1] != ':')) return default;
            return host[1..close];
        }

        var colon = host.IndexOf(':');
        if (colon >= 0) host = host[..colon];
        if (host.EndsWith('.')) host = host[..^1];
        return host;
    }

    /// <summary>For <c>*.example.com</c>, <c>example.com</c>; null for any other name (including <c>*.com</c>
    /// and partial-label wildcards).</summary>
    internal static string? WildcardParent(string name)
    {
        if (!name.StartsWith("*.", StringComparison.Ordinal)) return null;
        var parent = name[2..];
        if (parent.Contains('*', StringComparison.Ordinal)) return null;
        var dot = parent.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 && dot < parent.Length - 1 ? parent : null;
    }
}
