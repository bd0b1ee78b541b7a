namespace EdgeCache.Nats;

/// <summary>
/// Where invalidation events and membership live, and how often a node confirms and announces
/// itself. Shared by nodes (<c>EdgeCache:Invalidation</c>) and the purge API (<c>PurgeApi:Nats</c>),
/// which must agree on the stream, subjects and bucket.
/// </summary>
public sealed class InvalidationOptions
{
    /// <summary>NATS server URL(s), comma-separated, e.g. <c>nats://127.0.0.1:4222</c>. Empty turns invalidation off.</summary>
    public string NatsUrl { get; set; } = "";

    /// <summary>The JetStream stream that holds invalidation events. Default <c>EDGECACHE_INVALIDATION</c>.</summary>
    public string Stream { get; set; } = "EDGECACHE_INVALIDATION";

    /// <summary>Subject prefix: events go to <c>{prefix}.events</c>, acknowledgements to <c>{prefix}.acks.{node}</c>. Default <c>edgecache</c>.</summary>
    public string SubjectPrefix { get; set; } = "edgecache";

    /// <summary>How long the stream keeps events: the longest outage a node can replay after. Default 7 days.</summary>
    public TimeSpan StreamMaxAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Most events the stream keeps (oldest dropped first). Default 1,000,000.</summary>
    public long StreamMaxMessages { get; set; } = 1_000_000;

    /// <summary>JetStream replicas of the stream and the membership bucket: 1 on a single server, 3 on a
    /// NATS cluster of three or more, so losing a server loses no purge. Default 1.</summary>
    public int Replicas { get; set; } = 1;

    /// <summary>The key-value bucket where nodes announce themselves. Default <c>edgecache-nodes</c>.</summary>
    public string MembershipBucket { get; set; } = "edgecache-nodes";

    /// <summary>How often a node re-puts its membership entry. Default 2 s.</summary>
    public TimeSpan AnnounceInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long an entry lives without being re-put (the bucket's MaxAge). Default 10 s.</summary>
    public TimeSpan MembershipTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a node keeps serving stored objects without having confirmed that it is caught
    /// up with the stream; past it, it revalidates every stored object and leaves membership. Default 5 s.</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Connect to the servers of <see cref="NatsUrl"/> in the order given (the first while it answers) rather
    /// than to a random one, as NATS clients do by default: list the node's nearest server (on its own host or in its
    /// zone) first, so that a purge's delivery and its acknowledgement cross one hop fewer. Default false.</summary>
    public bool PreferFirstServer { get; set; }

    /// <summary>How long a NATS connection attempt or request may take. Default 2 s.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the client pings its NATS server; two unanswered pings in a row close the
    /// connection and it reconnects to another server of the cluster. NATS.Net's own default (2 min)
    /// leaves a node on a partitioned server for 4 minutes. Default 5 s.</summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Wait between reconnection attempts. Default 250 ms.</summary>
    public TimeSpan ReconnectWait { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long each pull request of a node's stream consumer waits on the server before it expires
    /// and is renewed. Long, because a request that expires just as an event arrives can be dropped by the
    /// server without its expiry notice (nats-server before 2.9.15, which Debian ships), and the consumer
    /// then waits for nothing until <see cref="ConsumerHeartbeat"/> finds it out: the fewer expiries, the
    /// rarer that stall. Kept well under the ordered consumer's inactivity limit (5 min), past which the server
    /// deletes a consumer that asked for nothing. Default 2 min.</summary>
    public TimeSpan ConsumerPullExpires { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How often the server tells a node's stream consumer that its pull request is still waiting
    /// (JetStream idle heartbeat). Two missed heartbeats make the node's NATS client recreate the consumer from
    /// the last event it delivered, so this bounds how long a lost pull request stalls the node's purges:
    /// twice this. 0.5 s to 30 s (the NATS client's limits). Default 0.5 s.</summary>
    public TimeSpan ConsumerHeartbeat { get; set; } = TimeSpan.FromSeconds(0.5);

    /// <summary>Selector rules a node keeps before folding them into per-host rules. Default 100,000.</summary>
    public int MaxRules { get; set; } = 100_000;

    /// <summary>Trust the stored sequence (<c>EdgeCache-Stored-Seq</c>) that upstream responses carry.
    /// Default: true on edges (their upstreams are shields), false on shields (their upstreams are origins).</summary>
    public bool? TrustUpstreamStoredSeq { get; set; }

    /// <summary>Test hook: a delay before each event is applied (simulates a slow node), read once at
    /// start-up (the service's own <c>ApplyDelay</c> is what a test changes on a live node). Default none.</summary>
    public TimeSpan ApplyDelay { get; set; }

    public bool Enabled => !string.IsNullOrWhiteSpace(NatsUrl);

    public string EventsSubject => SubjectPrefix + ".events";

    public string AckSubject(string node) => SubjectPrefix + ".acks." + node;

    public string AckWildcard => SubjectPrefix + ".acks.>";

    /// <summary>Returns the first problem with these settings, or null.</summary>
    public string? Validate()
    {
        if (!Enabled) return null;
        foreach (var url in NatsUrl.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var u) || u.Scheme is not ("nats" or "tls" or "ws" or "wss"))
            {
                return $"NatsUrl '{url}' is not a nats:// URL";
            }
        }

        if (string.IsNullOrWhiteSpace(Stream) || Stream.IndexOfAny([' ', '.', '*', '>']) >= 0) return "Stream must be a name without spaces, dots or wildcards";
        if (string.IsNullOrWhiteSpace(SubjectPrefix) || SubjectPrefix.IndexOfAny([' ', '*', '>']) >= 0) return "SubjectPrefix must be a subject without spaces or wildcards";
        if (string.IsNullOrWhiteSpace(MembershipBucket) || MembershipBucket.IndexOfAny([' ', '.', '*', '>']) >= 0) return "MembershipBucket must be a name without spaces, dots or wildcards";
        if (StreamMaxAge <= TimeSpan.Zero) return "StreamMaxAge must be positive";
        if (StreamMaxMessages <= 0) return "StreamMaxMessages must be positive";
        if (Replicas is < 1 or > 5) return "Replicas must be between 1 and 5 (JetStream's limit)";
        if (AnnounceInterval <= TimeSpan.Zero) return "AnnounceInterval must be positive";
        if (MembershipTtl <= AnnounceInterval) return "MembershipTtl must be longer than AnnounceInterval";
        if (Lease <= TimeSpan.Zero) return "Lease must be positive";
        if (RequestTimeout <= TimeSpan.Zero) return "RequestTimeout must be positive";
        if (ReconnectWait <= TimeSpan.Zero) return "ReconnectWait must be positive";
        if (ConsumerHeartbeat < TimeSpan.FromSeconds(0.5) || ConsumerHeartbeat > TimeSpan.FromSeconds(30)) return "ConsumerHeartbeat must be between 0.5 s and 30 s (the NATS client's limits)";
        if (ConsumerPullExpires < ConsumerHeartbeat * 2) return "ConsumerPullExpires must be at least twice ConsumerHeartbeat";
        if (PingInterval < TimeSpan.FromMilliseconds(100)) return "PingInterval must be at least 100 ms";
        if (MaxRules <= 0) return "MaxRules must be positive";
        if (ApplyDelay < TimeSpan.Zero) return "ApplyDelay must not be negative";
        return null;
    }
}
