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

    /// <summary>
    /// Store error responses (400 and up, other than the heuristically cacheable 404, 405, 410, 414 and
    /// 501) that carry explicit freshness, as RFC 9111 allows, for at most <c>EdgeCache:ErrorStatusMaxAge</c>
    /// (10 s by default). Default false: an error one client provokes with an odd request (an oversized
    /// or malformed header the origin refuses, a request that makes it fail) would otherwise be served
    /// to everyone under that key (cache-poisoned denial of service); the cap bounds how long.
    /// </summary>
    public bool StoreErrorStatuses { get; set; }

    /// <summary>
    /// Send <c>103 Early Hints</c> (RFC 8297) to HTTP/1.1 clients whose request goes past the memory tier:
    /// the <c>Link</c> members with <c>rel=preload</c> or <c>rel=preconnect</c> of the last final response
    /// this edge sent for that URL, so a browser fetches them while the page comes from upstream. Default
    /// false: RFC 8297 §3 warns that some HTTP/1.1 clients mishandle an unexpected 1xx, so a publisher
    /// turns it on for hosts whose clients are browsers.
    /// </summary>
    public bool EarlyHints { get; set; }

    /// <summary>
    /// Store a POST's response as the GET response of its target URI when RFC 9110 §9.3.3 allows it
    /// (see <see cref="PostResponseStorage"/>): a 2xx with explicit freshness and a Content-Location that
    /// resolves to the target URI. The POST itself is always forwarded. Default false: a POST's response
    /// depends on its body, which is no part of the cache key, so any client could POST a body of its
    /// choosing and, where the origin answers with such a response, choose what every later GET of that
    /// URI is served (cache poisoning). Turn it on only for origins whose POST responses under
    /// Content-Location are the resource's state, not an echo of the request.
    /// </summary>
    public bool StorePostResponses { get; set; }

    /// <summary>
    /// Remove CDN-Cache-Control from this host's responses to clients: true removes it, false passes it
    /// on, null (the default) does what the node-wide <c>EdgeCache:StripCdnCacheControl</c> says. Set per
    /// host, not in <c>Defaults</c> (the node-wide setting is the default for hosts not named).
    /// </summary>
    public bool? StripCdnCacheControl { get; set; }

    /// <summary>Compression at the edge: negotiation by Accept-Encoding and the encodings made (see
    /// <see cref="CompressionPolicy"/>). Off by default.</summary>
    public CompressionPolicy Compression { get; set; } = new();

    /// <summary>Image variants under a path prefix (see <see cref="ImagePolicy"/>). Off by default.</summary>
    public ImagePolicy Images { get; set; } = new();

    /// <summary>Time to connect to the upstream. Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Time from sending the request to receiving the response head, and the longest
    /// pause between body reads. Default 30 s.</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest a whole upstream exchange (head and body) may take. An origin that trickles a body
    /// (slowloris style) keeps resetting <see cref="ResponseTimeout"/>; past this the transfer is cut off and
    /// nothing is stored. Default 5 min.</summary>
    public TimeSpan TransferTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The forwarding fields this node sets on requests it sends upstream (see
    /// <see cref="ForwardedFormat"/>). Whatever the client sent in any forwarding field is removed
    /// first. Default <see cref="ForwardedFormat.XForwarded"/>.</summary>
    public ForwardedFormat Forwarding { get; set; } = ForwardedFormat.XForwarded;

    /// <summary>Addresses (<c>203.0.113.7</c>) or networks (<c>10.0.0.0/8</c>) of proxies in front of this
    /// node whose <c>X-Forwarded-For</c> is kept (this node appends the proxy's address to it). From any
    /// other peer the field is dropped. Default none.</summary>
    public string[] TrustedProxies { get; set; } = [];

    private System.Net.IPNetwork[]? _trustedNetworks;

    /// <summary>True when <paramref name="peer"/> is one of <see cref="TrustedProxies"/>.</summary>
    public bool TrustsProxy(System.Net.IPAddress? peer)
    {
        if (peer is null || TrustedProxies.Length == 0) return false;
        var networks = _trustedNetworks ??= ParseNetworks(TrustedProxies);
        if (peer.IsIPv4MappedToIPv6) peer = peer.MapToIPv4();
        foreach (var n in networks)
        {
            if (n.Contains(peer)) return true;
        }

        return false;
    }

    private static System.Net.IPNetwork[] ParseNetworks(string[] entries)
    {
        var list = new List<System.Net.IPNetwork>(entries.Length);
        foreach (var e in entries)
        {
            if (TryParseNetwork(e.Trim(), out var n)) list.Add(n);
        }

        return [.. list];
    }

    private static bool TryParseNetwork(string entry, out System.Net.IPNetwork network)
    {
        if (System.Net.IPAddress.TryParse(entry, out var address))
        {
            network = new System.Net.IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        return System.Net.IPNetwork.TryParse(entry, out network);
    }

    internal bool NormalizesQuery => SortQuery || IgnoreQueryParameters.Length > 0;

    /// <summary>Returns the first problem with these settings, or null.</summary>
    public string? Validate()
    {
        if (ConnectTimeout <= TimeSpan.Zero) return "ConnectTimeout must be positive";
        if (ResponseTimeout <= TimeSpan.Zero) return "ResponseTimeout must be positive";
        if (TransferTimeout < ResponseTimeout) return "TransferTimeout must be at least ResponseTimeout";
        if (Compression.Validate() is { } compression) return compression;
        if (Images.Validate() is { } images) return images;
        if (!Enum.IsDefined(Forwarding)) return $"Forwarding must be XForwarded, Forwarded, Both or None (got {Forwarding})";
        foreach (var p in TrustedProxies)
        {
            if (string.IsNullOrWhiteSpace(p) || !TryParseNetwork(p.Trim(), out _))
            {
                return $"TrustedProxies entry '{p}' is not an IP address or a network such as 10.0.0.0/8";
            }
        }

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
