namespace EdgeCache.Proxy;

/// <summary>
/// Shields: each object gets a second home, the shield second in the rendezvous order of its key, so that
/// losing a shield does not send its objects to the origin again (<c>EdgeCache:Replication</c>).
/// <list type="bullet">
/// <item><b>Push</b>: once a shield has stored an object it fetched from the origin, it tells the best other
/// live shield for the key (for the owner, the second; after a failover, the next) to fill it from this shield.</item>
/// <item><b>Peer fill</b>: a shield's miss asks that same peer for a stored copy (<c>only-if-cached</c>) before the
/// origin, so an owner that comes back empty, or a shield an edge retried on, fills from the shield that has it.</item>
/// </list>
/// A fill between shields asks only the peer's cache, never its origin nor a third shield, and keeps the
/// peer's stored sequence, so read-your-purge holds for the copy. The peers are a YARP cluster (<see cref="Cluster"/>)
/// listing every shield by its node id, this one included, with health checks, as the edges' shield cluster.
/// </summary>
public sealed class ReplicationOptions
{
    /// <summary>Replicate between shields. Needs <c>TierSecrets</c> (peers prove they are shields with one). Default false.</summary>
    public bool Enabled { get; set; }

    /// <summary>The YARP cluster of the shields (destination ids are node ids). Default <c>peers</c>.</summary>
    public string Cluster { get; set; } = "peers";

    /// <summary>Push each object fetched from the origin to its second home. Default true.</summary>
    public bool Push { get; set; } = true;

    /// <summary>Ask the peer for a stored copy on a miss, before the origin. Default true.</summary>
    public bool PeerFill { get; set; } = true;

    /// <summary>How long a peer fill waits for the peer's answer before the miss goes to the origin (a peer cut
    /// off, not yet marked down by the health checks). Default 2 s.</summary>
    public TimeSpan PeerFillTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Pushes sent at once. Default 4.</summary>
    public int Concurrency { get; set; } = 4;

    /// <summary>Pushes waiting to be sent; one more is dropped (counted) and the object has one home until a
    /// peer fill or the next fetch. Default 1,024.</summary>
    public int QueueLength { get; set; } = 1024;

    /// <summary>How long a push may take (the peer fetching the object from this shield). Default 10 s.</summary>
    public TimeSpan PushTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Returns the first problem with these settings, or null.</summary>
    public string? Validate()
    {
        if (!Enabled) return null;
        if (string.IsNullOrWhiteSpace(Cluster)) return "Cluster must name the YARP cluster of the shields";
        if (Concurrency is < 1 or > 64) return $"Concurrency must be 1-64 (got {Concurrency})";
        if (QueueLength is < 1 or > 1_000_000) return $"QueueLength must be 1-1000000 (got {QueueLength})";
        if (PeerFillTimeout <= TimeSpan.Zero) return $"PeerFillTimeout must be positive (got {PeerFillTimeout})";
        if (PushTimeout <= TimeSpan.Zero) return $"PushTimeout must be positive (got {PushTimeout})";
        return null;
    }
}
