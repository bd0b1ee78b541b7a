namespace EdgeCache.Engine;

/// <summary>What a client's <c>Cache-Control: no-cache</c> or <c>Pragma: no-cache</c> does.</summary>
public enum ClientNoCacheMode
{
    /// <summary>Revalidate upstream, as RFC 9111 §5.2.1.4 says (concurrent revalidations collapse).</summary>
    Revalidate,

    /// <summary>Ignore it, so clients cannot force origin traffic at will.</summary>
    Ignore,
}

/// <summary>Per-host caching settings. Defaults follow the RFCs, except where noted.</summary>
public sealed class HostCachePolicy
{
    public static readonly HostCachePolicy Default = new();

    /// <summary>Sort query parameters by name before they form the cache key. Default false.</summary>
    public bool SortQuery { get; set; }

    /// <summary>Query parameters dropped from the cache key; a trailing '*' matches a prefix (utm_*).</summary>
    public string[] IgnoreQueryParameters { get; set; } = [];

    /// <summary>See <see cref="ClientNoCacheMode"/>. Default Revalidate (the RFC's behaviour).</summary>
    public ClientNoCacheMode ClientNoCache { get; set; } = ClientNoCacheMode.Revalidate;

    /// <summary>
    /// Store responses that carry Set-Cookie. RFC 9111 §7.3 allows it, but a CDN that does it
    /// risks handing one user's session to another, so the default is false.
    /// </summary>
    public bool StoreSetCookie { get; set; }

    /// <summary>Time to connect to the upstream. Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Time from sending the request to receiving the response head, and the longest
    /// pause between body reads. Default 30 s.</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest a whole upstream exchange (head and body) may take. An origin that trickles a body
    /// (slowloris style) keeps resetting <see cref="ResponseTimeout"/>; past this the transfer is cut off and
    /// nothing is stored. Default 5 min.</summary>
    public TimeSpan TransferTimeout { get; set; } = TimeSpan.FromMinutes(5);

    internal bool NormalizesQuery => SortQuery || IgnoreQueryParameters.Length > 0;

    /// <summary>Returns the first problem with these settings, or null.</summary>
    public string? Validate()
    {
        if (ConnectTimeout <= TimeSpan.Zero) return "ConnectTimeout must be positive";
        if (ResponseTimeout <= TimeSpan.Zero) return "ResponseTimeout must be positive";
        if (TransferTimeout < ResponseTimeout) return "TransferTimeout must be at least ResponseTimeout";
        foreach (var p in IgnoreQueryParameters)
        {
            if (string.IsNullOrWhiteSpace(p) || p.IndexOf('*') is >= 0 and var i && i != p.Length - 1)
            {
                return $"IgnoreQueryParameters entry '{p}' is empty or has '*' other than at its end";
            }
        }

        return null;
    }
}
