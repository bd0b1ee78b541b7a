using EdgeCache.Engine;
using EdgeCache.Storage;

namespace EdgeCache.Proxy;

/// <summary>
/// Node settings, bound from the <c>EdgeCache</c> configuration section and validated at start-up.
/// Routes and upstream clusters are YARP's own <c>ReverseProxy</c> section.
/// </summary>
public sealed class EdgeCacheOptions
{
    public const string SectionName = "EdgeCache";

    /// <summary>Set by the host (edge or shield); not read from configuration.</summary>
    public NodeRole Role { get; set; }

    /// <summary>This node's stable name: its Via pseudonym and, for shields, its identity in the hash.
    /// Default: the machine name.</summary>
    public string NodeId { get; set; } = Environment.MachineName;

    /// <summary>Bytes the memory tier may hold. Default 256 MiB.</summary>
    public long MemoryBudgetBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Largest object the memory tier stores; larger ones are passed through. Default 16 MiB.</summary>
    public long MaxObjectBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>Fraction of (Date − Last-Modified) used as heuristic freshness (RFC 9111 §4.2.2). Default 0.1; 0 turns heuristics off.</summary>
    public double HeuristicFraction { get; set; } = 0.1;

    /// <summary>Cap on heuristic freshness. Default 1 day.</summary>
    public TimeSpan HeuristicMaxAge { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Cap on the freshness of error responses stored where a host sets <c>StoreErrorStatuses</c>. Default 10 s.</summary>
    public TimeSpan ErrorStatusMaxAge { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>URLs whose <c>103 Early Hints</c> an edge remembers (hosts with <c>EarlyHints</c>); past this,
    /// new URLs are not remembered until old ones are forgotten. Default 10,000.</summary>
    public int EarlyHintsMaxUrls { get; set; } = 10_000;

    /// <summary>Remove CDN-Cache-Control from responses to clients. Default false on both tiers: the
    /// field is meant for every CDN on the path (RFC 9213 §2), and another CDN or tier may sit in front of
    /// this one, so it is passed on as large CDNs do. EdgeCache's own targeted field,
    /// <c>EdgeCache-Cache-Control</c>, is always removed by edges whatever this says. Set true on edges
    /// when nothing downstream should see the origin's CDN directives. The default for every host: a host's
    /// <see cref="HostCachePolicy.StripCdnCacheControl"/> overrides it.</summary>
    public bool StripCdnCacheControl { get; set; }

    /// <summary>Remove Surrogate-Key and Cache-Tag from responses to clients. Default: true on edges,
    /// false on shields (surrogate keys travel with the object to the edges, for tag purges).</summary>
    public bool? StripSurrogateKeys { get; set; }

    /// <summary>Purge and TTL events from NATS JetStream, and membership. Off unless <c>Invalidation:NatsUrl</c> is set.</summary>
    public EdgeCache.Nats.InvalidationOptions Invalidation { get; set; } = new();

    /// <summary>Edges: take the shield cluster's destinations from NATS membership, with the configured ones as the fallback.</summary>
    public EdgeCache.Proxy.Invalidation.ShieldDiscoveryOptions ShieldDiscovery { get; set; } = new();

    /// <summary>Caching policy for hosts that <see cref="Hosts"/> does not name.</summary>
    public HostCachePolicy Defaults { get; set; } = new();

    /// <summary>Per-host caching policy, by host name (no port), case-insensitive.</summary>
    public Dictionary<string, HostCachePolicy> Hosts { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    public ListenSettings Listen { get; set; } = new();

    /// <summary>Shared secrets between the tiers (at most two, so one can be rotated while the other is
    /// still in use). An edge sends the first to its shield cluster in <c>EdgeCache-Tier-Auth</c>; a
    /// shield keeps a request's forwarding fields (the client's address, scheme and host) only when it
    /// carries one of them, and otherwise replaces them with its own view. Never sent to origins,
    /// never logged. Default none: shields trust no forwarding fields.</summary>
    public string[] TierSecrets { get; set; } = [];

    /// <summary>The disk tier (FASTER). Off unless <c>Disk:Directory</c> is set.</summary>
    public DiskStoreOptions Disk { get; set; } = new();

    /// <summary>The image worker processes that make image variants (hosts with <c>Images:Enabled</c>).</summary>
    public ImageWorkerOptions ImageWorkers { get; set; } = new();

    /// <summary>Shields: a second home for each object on another shield (<see cref="ReplicationOptions"/>).</summary>
    public ReplicationOptions Replication { get; set; } = new();

    /// <summary>The background re-encoder of hot compressed representations (<see cref="RecompressOptions"/>).</summary>
    public RecompressOptions Recompress { get; set; } = new();

    /// <summary>Write one access-log line per request (category EdgeCache.AccessLog). Default false.</summary>
    public bool AccessLog { get; set; }

    /// <summary>Hosts that get their own per-host metric series; later hosts count as "other". Default 100.</summary>
    public int MetricsHostLimit { get; set; } = 100;

    /// <summary>How often the status page's history takes a sample (it keeps 600). Default 1 s.</summary>
    public TimeSpan StatusSampleInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a stopping node (SIGTERM) lets requests in flight finish. Default 30 s.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The Cache-Status cache name of this tier (RFC 9211).</summary>
    public string CacheName => Role == NodeRole.Edge ? "EdgeCache-Edge" : ShieldCacheName;

    /// <summary>The Cache-Status name of origin shields.</summary>
    public const string ShieldCacheName = "EdgeCache-Shield";

    /// <summary>Edges remove <c>EdgeCache-Cache-Control</c> before responding: it is for this CDN's tiers only.</summary>
    public bool StripsEdgeCacheCacheControl => Role == NodeRole.Edge;

    public bool StripsSurrogateKeys => StripSurrogateKeys ?? Role == NodeRole.Edge;
}

/// <summary>Where a node listens. Traffic and admin are separate ports; admin binds to loopback by default.</summary>
public sealed class ListenSettings
{
    /// <summary>Traffic endpoints, e.g. <c>http://127.0.0.1:8081</c>: HTTP/1.1 on http URLs, HTTP/1.1 and
    /// HTTP/2 (ALPN) on https URLs, which need <see cref="Certificates"/> (or <see cref="CertificatePath"/>). Required.</summary>
    public string[] Traffic { get; set; } = [];

    /// <summary>Cleartext HTTP/2 (prior knowledge, h2c) endpoints, e.g. <c>http://127.0.0.1:8083</c>. Optional.</summary>
    public string[] Http2Cleartext { get; set; } = [];

    /// <summary>Admin endpoint (health, later metrics), e.g. <c>http://127.0.0.1:9081</c>. Empty turns it off.</summary>
    public string Admin { get; set; } = "";

    /// <summary>One certificate for https traffic endpoints, PFX (with <see cref="CertificatePassword"/>)
    /// or PEM (certificate chain and key in the one file): the setting from before <see cref="Certificates"/>,
    /// still read as one more entry of that list, marked as the default.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>The password of <see cref="CertificatePath"/>. Never logged.</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>The certificates of the https traffic endpoints, chosen per connection by the name the
    /// client asks for (SNI) against the names each certificate holds; see <see cref="CertificateSettings"/>.
    /// Their files reload when they change. Default none.</summary>
    public CertificateSettings[] Certificates { get; set; } = [];

    /// <summary>What a TLS client gets when it asks for a name no certificate covers: <c>Default</c>, the
    /// certificate marked <see cref="CertificateSettings.Default"/> (the handshake is refused when none is
    /// marked), or <c>Refuse</c>. Clients that send no name at all always get the default certificate,
    /// or are refused without one. Default <c>Default</c>.</summary>
    public UnknownSniMode UnknownSni { get; set; } = UnknownSniMode.Default;

    /// <summary>How often the certificate files are read to see whether they changed, besides the file
    /// system's change notifications (which can be missed: network file systems, some container mounts).
    /// Default 1 minute.</summary>
    public TimeSpan CertificatePollInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Response bytes Kestrel buffers per connection before a write waits for the socket.
    /// Kestrel's default is 64 KiB, which splits every larger hit into several waits; objects up to
    /// this size go out in one write. Default 1 MiB (0 = Kestrel's default).</summary>
    public long ResponseBufferBytes { get; set; } = 1024 * 1024;

    /// <summary>Answer plain HTTP/1.1 memory hits on the traffic endpoints without ASP.NET Core's HTTP
    /// layer, straight from memory to the socket (see docs). Misses and anything unusual take the full
    /// path, and the connection stays there. Default true; false sends every request through the full path.</summary>
    public bool FastHits { get; set; } = true;

    /// <summary>Run socket completions and Kestrel's connection work inline on the socket engine's
    /// threads instead of queueing them to the thread pool (Kestrel's <c>UnsafePreferInlineScheduling</c>
    /// and the runtime's inline socket completions): fewer thread hops per request, at the price that
    /// work which blocks holds up other connections. Default false.</summary>
    public bool InlineScheduling { get; set; }

    /// <summary>Keep a receive buffer (4 KiB) allocated on every open connection instead of waiting for
    /// data before taking one (Kestrel's <c>WaitForDataBeforeAllocatingBuffer</c> off): one system call
    /// less per request, at 4 KiB of memory per idle connection. Default false.</summary>
    public bool PreallocateReceiveBuffers { get; set; }

    /// <summary>The slowest a client may read a response served from cache, in bytes per second after
    /// <see cref="MinHitDataRateGracePeriod"/>; a slower one is cut off (Kestrel's MinResponseDataRate
    /// rule, 240 B/s, would let a client that never reads hold a 20 MB hit open for a day). Counted in
    /// <c>edgecache.requests.fast.cut</c> for fast hits. Default 4096; 0 leaves Kestrel's rule.</summary>
    public double MinHitDataRate { get; set; } = 4096;

    /// <summary>The grace period of <see cref="MinHitDataRate"/>. Default 5 s (more than 1 s: Kestrel checks once a second).</summary>
    public TimeSpan MinHitDataRateGracePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>HTTP/2: concurrent streams a client may open on one connection (SETTINGS_MAX_CONCURRENT_STREAMS,
    /// Kestrel's <c>Http2.MaxStreamsPerConnection</c>); a stream above it is refused (RST_STREAM REFUSED_STREAM).
    /// Kestrel's rapid-reset defence (CVE-2023-44487) is tied to it: once a connection has more than twice
    /// this many (at least 100) streams still being worked on, each new one is reset with ENHANCE_YOUR_CALM,
    /// and after 100 of those within 5 s the connection is closed with GOAWAY. Default 100 (nginx's
    /// http2_max_concurrent_streams is 128, Traffic Server's 100), 1-1000.</summary>
    public int Http2MaxStreams { get; set; } = 100;

    /// <summary>HTTP/2: the largest request header field, name or value, compressed or not (Kestrel's
    /// <c>Http2.MaxRequestHeaderFieldSize</c>); a larger one closes the connection (COMPRESSION_ERROR).
    /// Default 16384 (Kestrel's); 4096-1048576.</summary>
    public int Http2MaxHeaderFieldBytes { get; set; } = 16 * 1024;

    /// <summary>The request head's fields in total, HTTP/1.1 and HTTP/2 (Kestrel's <c>MaxRequestHeadersTotalSize</c>,
    /// sent to HTTP/2 clients as SETTINGS_MAX_HEADER_LIST_SIZE); more is 431 (HTTP/1.1) or a stream error.
    /// Default 32768 (Kestrel's; nginx allows 4 x 8 KiB lines); 4096-1048576.</summary>
    public int MaxRequestHeadersBytes { get; set; } = 32 * 1024;

    /// <summary>Request header fields per request, HTTP/1.1 and HTTP/2 (Kestrel's <c>MaxRequestHeaderCount</c>);
    /// more is 431 or a stream error. Default 100 (Kestrel's); 1-10000.</summary>
    public int MaxRequestHeaderCount { get; set; } = 100;


    /// <summary>The traffic URL this node announces in membership, for edges that discover shields
    /// (e.g. <c>http://shield-0.shields:8080</c>). Default: the first traffic endpoint as bound, with
    /// the machine name when it binds every interface.</summary>
    public string? AdvertiseTraffic { get; set; }

    /// <summary>The admin URL this node announces (edges' health checks use a shield's <c>/readyz</c> there). Default: as bound.</summary>
    public string? AdvertiseAdmin { get; set; }
}
