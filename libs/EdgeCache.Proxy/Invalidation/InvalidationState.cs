using EdgeCache.Engine;
using EdgeCache.Nats;
using Microsoft.Extensions.Options;

namespace EdgeCache.Proxy.Invalidation;

/// <summary>
/// The node's one invalidation state: the last stream sequence it applied, the rules those events
/// left (see <see cref="InvalidationRules"/>), and the lease (when it last confirmed it had applied
/// everything in the stream). <see cref="InvalidationService"/> is its only writer; the cache and the
/// status, health and metrics pages read it. The lease runs on <see cref="InvalidationClock"/>.
/// </summary>
public sealed class InvalidationState
{
    private readonly bool _enabled;
    private readonly long _leaseTimestamps;
    private long _appliedSeq;
    private long _confirmedAt = long.MinValue;

    public InvalidationState(IOptions<EdgeCacheOptions> options, InvalidationClock clock)
        : this(options.Value.Invalidation, clock.Time)
    {
    }

    /// <summary>Settings are read once: the lease and rule limit are not reloaded.</summary>
    internal InvalidationState(InvalidationOptions options, TimeProvider time)
    {
        Time = time;
        _enabled = options.Enabled;
        Lease = options.Lease;
        var timestamps = options.Lease.TotalSeconds * time.TimestampFrequency;
        _leaseTimestamps = timestamps >= long.MaxValue ? long.MaxValue : (long)timestamps;
        Rules = new InvalidationRules(options.MaxRules);
    }

    /// <summary>The lease clock: every lease timestamp is one of its <see cref="TimeProvider.GetTimestamp"/> values.</summary>
    public TimeProvider Time { get; }

    /// <summary>How long a confirmation keeps the node current.</summary>
    public TimeSpan Lease { get; }

    /// <summary>Purges, soft purges and TTL changes applied so far.</summary>
    public InvalidationRules Rules { get; }

    /// <summary>The last invalidation-stream sequence this node applied.</summary>
    public ulong AppliedSeq => (ulong)Interlocked.Read(ref _appliedSeq);

    /// <summary>
    /// False when the node uses an invalidation stream and has not confirmed it is caught up within
    /// the lease, or is not listed in membership: it may have missed purges, or purges may be answered
    /// without it, so it revalidates stored objects instead of serving them.
    /// (Read per cache hit: two volatile reads and a timestamp comparison.)
    /// </summary>
    public bool IsCurrent => !_enabled || (_listed && Confirmed());

    /// <summary>Whether the lease holds (the node confirmed within it that it applied every event), listed or not.</summary>
    public bool IsConfirmed => !_enabled || Confirmed();

    private bool Confirmed()
    {
        var at = Volatile.Read(ref _confirmedAt);
        return at != long.MinValue && Time.GetTimestamp() - at <= _leaseTimestamps;
    }

    /// <summary>
    /// Whether the node's membership entry is in the bucket, so the purge API waits for it. A node that
    /// serves stored objects must be: a purge published while it is not listed is answered without it.
    /// Found on the namespaces cluster: an edge whose NATS server was killed left membership, caught up,
    /// served again at once, and served a purged version of an object whose purge, published before its
    /// entry was back, was complete. True until <see cref="Unlisted"/> (only the invalidation service
    /// tracks it).
    /// </summary>
    private volatile bool _listed = true;

    /// <summary>The entry is not (or no longer) in the bucket: stored objects are revalidated until <see cref="Listed"/>.</summary>
    internal void Unlisted() => _listed = false;

    /// <summary>NATS has stored the node's entry.</summary>
    internal void Listed() => _listed = true;

    /// <summary>How long ago this node last confirmed it was caught up with the stream, or null if never.</summary>
    public TimeSpan? SinceConfirmed
    {
        get
        {
            var at = Volatile.Read(ref _confirmedAt);
            return at == long.MinValue ? null : Time.GetElapsedTime(at);
        }
    }

    /// <summary>Records that this node had applied everything published before <paramref name="timestamp"/>
    /// (a <see cref="Time"/> timestamp); an older confirmation never replaces a newer one.</summary>
    internal void Confirm(long timestamp)
    {
        var current = Interlocked.Read(ref _confirmedAt);
        while (timestamp > current)
        {
            var seen = Interlocked.CompareExchange(ref _confirmedAt, timestamp, current);
            if (seen == current) return;
            current = seen;
        }
    }

    /// <summary>Records that this node just confirmed it has applied everything in the stream.</summary>
    internal void Confirm() => Confirm(Time.GetTimestamp());

    /// <summary>Moves the applied sequence forward to <paramref name="seq"/> (never back).</summary>
    internal void Advance(ulong seq)
    {
        var current = Interlocked.Read(ref _appliedSeq);
        while ((ulong)current < seq)
        {
            var seen = Interlocked.CompareExchange(ref _appliedSeq, (long)seq, current);
            if (seen == current) return;
            current = seen;
        }
    }

    /// <summary>Follows the stream from <paramref name="seq"/>: a new node starts at the stream's end.</summary>
    internal void ResumeAt(ulong seq) => Interlocked.Exchange(ref _appliedSeq, (long)seq);

    /// <summary>Restores the rules and sequence kept with a disk checkpoint; returns the sequence, or null when unreadable.</summary>
    internal ulong? Load(ReadOnlySpan<byte> utf8)
    {
        if (Rules.Load(utf8) is not { } seq) return null;
        ResumeAt(seq);
        return seq;
    }

    /// <summary>The rules and sequence, as kept with every disk checkpoint.</summary>
    internal byte[] Save() => Rules.Save(AppliedSeq);

    /// <summary>Records one event's rules at <paramref name="seq"/>. The sequence is advanced
    /// separately (<see cref="Advance"/>), once the tiers have dropped what it names.</summary>
    internal void Record(InvalidationEvent e, ulong seq, DateTimeOffset now, Func<string, string?> locate) => Rules.Apply(e, seq, now, locate);

    /// <summary>Everything stored before <paramref name="seq"/> is dropped (the stream lost events this node needed).</summary>
    internal void PurgeAll(ulong seq)
    {
        Rules.PurgeAll(seq);
        Advance(seq);
    }

    /// <summary>The stream was reset: no rule applies to its sequences, and the node follows it from <paramref name="seq"/>.</summary>
    internal void Reset(ulong seq)
    {
        Rules.Clear();
        ResumeAt(seq);
    }
}
