using EdgeCache.Engine;
using EdgeCache.Proxy.Internal;
using EdgeCache.Proxy.Invalidation;
using EdgeCache.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeCache.Proxy;

/// <summary>The node's cache: tiers, in-flight fetches and the settings they run by. One per node.</summary>
public sealed class CacheEngine : IAsyncDisposable
{
    public CacheEngine(IOptions<EdgeCacheOptions> options, CacheClock clock, InvalidationState invalidation, ILogger<CacheEngine> logger, ILoggerFactory loggers)
    {
        Options = options.Value;
        _invalidation = invalidation;
        Time = clock.Time;
        Logger = logger;
        Heuristics = new HeuristicOptions(Options.HeuristicFraction, Options.HeuristicMaxAge) { ErrorStatusMax = Options.ErrorStatusMaxAge };
        ViaToken = "1.1 " + Options.NodeId;
        HostPolicies = new HostPolicies(Options);
        HitDataRate = Options.Listen.MinHitDataRate > 0 ? new(Options.Listen.MinHitDataRate, Options.Listen.MinHitDataRateGracePeriod) : null;
        _stripTags = Options.StripsSurrogateKeys;
        _stripCdn = Options.StripCdnCacheControl;
        _stripOwn = Options.StripsEdgeCacheCacheControl;
        var memory = new MemoryTier(Options.MemoryBudgetBytes, Options.MaxObjectBytes);
        Func<IDiskTier>? openDisk = null;
        if (Options.Disk.Enabled)
        {
            var diskLogger = loggers.CreateLogger<DiskStore>();
            openDisk = () => DiskStore.Open(Options.Disk, diskLogger, Heuristics);
        }

        Recompressions = new Internal.Recompressions(this, Options.Recompress, logger);
        Derivations = new Internal.Derivations(logger, Recompressions);
        Images = new Internal.ImageVariants(new Internal.ImageWorkers(Options.ImageWorkers, logger), logger);
        Tiers = new CacheTiers(memory, openDisk, Options.Disk.Directory, Options.Disk.ReopenInterval, logger, Options.Disk.WriteQueueBytes, Options.Disk.WriteConcurrency);
    }

    /// <summary>The representations this node makes (compression), and their counters.</summary>
    internal Internal.Derivations Derivations { get; }

    /// <summary>The background re-encode of hot representations at a high level, and its counters.</summary>
    internal Internal.Recompressions Recompressions { get; }

    /// <summary>The image variants this node makes, their worker processes and counters.</summary>
    internal Internal.ImageVariants Images { get; }

    /// <summary>True when this node makes image variants for hosts of <paramref name="policy"/> (shields by default).</summary>
    internal bool MakesImages(HostCachePolicy policy) =>
        policy.Images.Enabled && (policy.Images.Produce ?? Options.Role == NodeRole.Shield);

    /// <summary>True when this node makes encodings for hosts of <paramref name="policy"/> (shields by default).</summary>
    internal bool Produces(HostCachePolicy policy) =>
        policy.Compression.Enabled && (policy.Compression.Produce ?? Options.Role == NodeRole.Shield);

    /// <summary>Memory, disk, the disk's supervisor and write-behind queue, and the state kept with disk checkpoints.</summary>
    public CacheTiers Tiers { get; }

    /// <summary>Why the configured disk tier could not be opened, or null.</summary>
    public string? DiskOpenError => Tiers.DiskOpenError;

    internal System.Diagnostics.Metrics.Counter<long>? RequestCounter { get; set; }

    private long _requests;
    private long _hits;

    /// <summary>Requests counted by outcome since start, and how many of them were hits.</summary>
    private long _fastHits;

    /// <summary>Memory hits answered by the fast hit path (also counted in <see cref="RequestTotals"/>).</summary>
    public long FastHits => Interlocked.Read(ref _fastHits);

    private long _fastHitsCut;

    /// <summary>Fast hits whose connection was cut mid-answer (the client went away, or read too slowly).</summary>
    public long FastHitsCut => Interlocked.Read(ref _fastHitsCut);

    internal void CountFastHitCut() => Interlocked.Increment(ref _fastHitsCut);

    private long _earlyHintsSent;

    /// <summary>103 Early Hints responses sent (hosts with <c>EarlyHints</c>).</summary>
    public long EarlyHintsSent => Interlocked.Read(ref _earlyHintsSent);

    internal void CountEarlyHint() => Interlocked.Increment(ref _earlyHintsSent);

    private SeenFilter? _seenOnDisk;

    private SeenFilter SeenOnDisk => _seenOnDisk ??= new SeenFilter(() => Memory.Count);

    /// <summary>
    /// For a disk lookup of <paramref name="key"/>: objects larger than this come in a pooled array and are
    /// served once, not promoted to memory. With <c>Disk:PromoteOnHit</c> 2 (the default) that is every object
    /// on its first disk hit within the seen filter's window (see <see cref="SeenFilter"/>); otherwise, and
    /// then, those the memory tier will not take.
    /// </summary>
    internal long DiskRentAbove(string key) =>
        Options.Disk.PromoteOnHit == 1 || SeenOnDisk.Seen(key) ? Memory.MaxObjectBytes : -1;

    /// <summary>A disk lookup found <paramref name="key"/>: its next disk hit within the window promotes it.</summary>
    internal void DiskHit(string key)
    {
        if (Options.Disk.PromoteOnHit != 1) SeenOnDisk.Add(key);
    }

    internal void CountFastHit(string detail = "memory")
    {
        Interlocked.Increment(ref _fastHits);
        CountRequest(RequestOutcome.Hit, detail);
    }

    public (long Requests, long Hits) RequestTotals => (Interlocked.Read(ref _requests), Interlocked.Read(ref _hits));

    /// <summary>Counts one request by its cache outcome (hit, stale, revalidated, miss, pass, error).</summary>
    /// <summary>The metric tag value of each <see cref="RequestOutcome"/>, by its number.</summary>
    private static readonly string[] OutcomeTags = ["hit", "stale", "miss", "revalidated", "pass", "error"];

    internal void CountRequest(RequestOutcome outcome, string? detail = null)
    {
        Interlocked.Increment(ref _requests);
        if (outcome == RequestOutcome.Hit) Interlocked.Increment(ref _hits);
        if (RequestCounter is not { Enabled: true } counter) return;
        var tags = new System.Diagnostics.TagList { { "edgecache.outcome", OutcomeTags[(int)outcome] }, { "edgecache.tier", Options.Role == NodeRole.Edge ? "edge" : "shield" } };
        if (detail is not null) tags.Add("edgecache.detail", detail);
        counter.Add(1, tags);
    }

    /// <summary>The disk tier, or null when it is off (or could not be opened).</summary>
    public IDiskTier? Disk => Tiers.Disk;

    /// <summary>The largest object either tier stores.</summary>
    public long MaxStoredObjectBytes => Math.Max(Memory.MaxObjectBytes, Disk?.MaxObjectBytes ?? 0);

    /// <summary>Disk writes dropped because the disk fell behind, since start.</summary>
    public long DroppedDiskWrites => Tiers.DroppedDiskWrites;

    /// <summary>Stores a complete response in memory (when it fits) and on disk (in the background); a
    /// partial (206) in memory only, and never in place of a complete copy (<see cref="MemoryTier.Set"/>).
    /// A copy older than an applied purge is not stored; one older than a soft purge or TTL change is stored with it applied.
    /// The task completes when the disk write is queued (see <see cref="CacheTiers.WriteBehind"/>), or, for
    /// an object too large for the memory tier, when it is written (until then only the fetch holds it):
    /// <paramref name="upstreamHolds"/> says the object has another copy upstream, so that write may be dropped.</summary>
    public Task Store(string primaryKey, CachedResponse entry, bool upstreamHolds = false)
    {
        if (CheckRules(primaryKey, entry, stored: false) is not { } checkedEntry) return Task.CompletedTask;
        entry = checkedEntry;
        var inMemory = Memory.Set(primaryKey, entry);

        // A partial (RFC 9111 §3.3) lives in memory only: on disk it could replace a complete copy the
        // memory tier no longer holds, and it is worth little after a restart.
        if (entry.IsPartial) return Task.CompletedTask;
        return Tiers.WriteBehind(primaryKey, entry, upstreamHolds, untilWritten: !inMemory);
    }

    /// <summary>Waits for the disk writes in flight (tests, shutdown).</summary>
    public Task FlushDiskWritesAsync() => Tiers.FlushDiskWritesAsync();

    public ValueTask DisposeAsync()
    {
        Images.Dispose();
        Recompressions.Dispose();
        return Tiers.DisposeAsync();
    }

    public EdgeCacheOptions Options { get; }

    public TimeProvider Time { get; }

    public MemoryTier Memory => Tiers.Memory;

    public HeuristicOptions Heuristics { get; }

    internal ILogger Logger { get; }

    internal FlightTable Flights { get; } = new();

    /// <summary>The upstream retry loop's counts (retries by reason, requests abandoned to a shield marked down).</summary>
    internal Internal.UpstreamCounters Upstream { get; } = new();

    internal Internal.ReplicationCounters Replication { get; } = new();

    /// <summary>The 103 Early Hints remembered per URL, for hosts with <c>EarlyHints</c> (edges only).</summary>
    internal EarlyHints EarlyHints => _earlyHints ??= new EarlyHints(Options.EarlyHintsMaxUrls);

    private EarlyHints? _earlyHints;

    /// <summary>The hints table if any host has remembered hints yet (the fast path checks this, not creating it).</summary>
    internal EarlyHints? EarlyHintsIfAny => _earlyHints;

    /// <summary>This node's Via entry (RFC 9110 §7.6.3), with its id as pseudonym.</summary>
    internal string ViaToken { get; }

    /// <summary>The per-host caching policies in force (reloadable).</summary>
    public HostPolicies HostPolicies { get; }

    /// <summary>The slowest rate at which a client may read a response from cache (<c>Listen:MinHitDataRate</c>); null for Kestrel's own.</summary>
    internal Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate? HitDataRate { get; }

    private readonly bool _stripTags;
    private readonly bool _stripCdn;
    private readonly bool _stripOwn;

    /// <summary>The fields <see cref="HidesFromClients"/> may hide: what a pass-through removes from an upstream's response.</summary>
    internal static readonly string[] HideableFields = [HeaderRules.EdgeCacheCacheControl, HeaderRules.CopyId, HeaderRules.Encoded, HeaderRules.CdnCacheControl, HeaderRules.SurrogateKey, HeaderRules.CacheTag];

    /// <summary>True for fields this node does not send to its clients of a host with <paramref name="policy"/>
    /// (on edges EdgeCache-Cache-Control and surrogate keys; CDN-Cache-Control where the host's
    /// <c>StripCdnCacheControl</c>, else the node-wide one, says). Every writer of a response head asks it:
    /// hits on both paths, 304s, misses and pass-throughs. The fast path asks once per stored object and
    /// host policy, when it builds the object's head, not per hit.</summary>
    internal bool HidesFromClients(string name, HostCachePolicy policy) =>
        (_stripOwn && (name.Equals(HeaderRules.EdgeCacheCacheControl, StringComparison.OrdinalIgnoreCase) || name.Equals(HeaderRules.CopyId, StringComparison.OrdinalIgnoreCase) || name.Equals(HeaderRules.Encoded, StringComparison.OrdinalIgnoreCase)))
        || ((policy.StripCdnCacheControl ?? _stripCdn) && name.Equals(HeaderRules.CdnCacheControl, StringComparison.OrdinalIgnoreCase))
        || (_stripTags && (name.Equals(HeaderRules.SurrogateKey, StringComparison.OrdinalIgnoreCase) || name.Equals(HeaderRules.CacheTag, StringComparison.OrdinalIgnoreCase)));

    /// <summary>True when this node keeps the <see cref="HeaderRules.Encoded"/> field of an upstream's response for a host
    /// with <paramref name="policy"/>: on an edge that does not make this host's encodings, whose upstream (a shield) does.
    /// Anywhere else the upstream is an origin, and its field is dropped: an origin's own coding is never re-encoded.</summary>
    internal bool TrustsUpstreamEncoded(HostCachePolicy policy) => Options.Role == NodeRole.Edge && !Produces(policy);

    /// <summary>Shields with an invalidation stream tell edges what sequence each copy is current to.</summary>
    internal bool SendsStoredSeq => Options.Role == NodeRole.Shield && Options.Invalidation.Enabled;

    private readonly InvalidationState _invalidation;
    private long _purgedObjects;

    /// <summary>Purges, soft purges and TTL changes applied so far (<see cref="InvalidationState.Rules"/>).</summary>
    public InvalidationRules Rules => _invalidation.Rules;

    /// <summary>The last invalidation-stream sequence this node applied (<see cref="InvalidationState.AppliedSeq"/>).</summary>
    public ulong AppliedSeq => _invalidation.AppliedSeq;

    /// <summary>Stored objects dropped because a purge covered them, since start.</summary>
    public long PurgedObjects => Interlocked.Read(ref _purgedObjects);

    /// <summary>How long ago this node last confirmed it was caught up with the stream, or null if never (<see cref="InvalidationState.SinceConfirmed"/>).</summary>
    public TimeSpan? SinceConfirmed => _invalidation.SinceConfirmed;

    /// <summary>False while the node may have missed purges, so it revalidates stored objects (<see cref="InvalidationState.IsCurrent"/>).</summary>
    public bool IsCurrent => _invalidation.IsCurrent;

    /// <summary>
    /// Checks a stored copy against the rules applied since it was stored or last checked. Returns
    /// null when a purge covers it (it is dropped from both tiers when <paramref name="stored"/>), or
    /// the copy with a soft purge or TTL change applied (and put back in memory), or the copy itself.
    /// </summary>
    internal CachedResponse? CheckRules(string primaryKey, CachedResponse entry, bool stored)
    {
        if (!entry.NeedsRuleCheck(Rules)) return entry;
        var max = Rules.MaxSeq;
        var match = Rules.Evaluate(primaryKey, entry.Tags, entry.StoredSeq, entry.CopyId);
        switch (match.Kind)
        {
            case RuleKind.None:
                Volatile.Write(ref entry.CheckedSeq, max);
                return entry;
            case RuleKind.Hard:
                if (stored)
                {
                    Interlocked.Increment(ref _purgedObjects);
                    Invalidate(primaryKey);
                }

                return null;
            default:
                var changed = entry.WithRule(match, max);
                if (stored && changed.Body.IsCompleted) Memory.Set(primaryKey, changed);
                return changed;
        }
    }

    /// <summary>
    /// Drops the exact URLs of a hard purge from both tiers at once (its rules are recorded first,
    /// in <see cref="InvalidationState"/>, so a copy fetched meanwhile is not stored). A refresh's purge
    /// (<see cref="InvalidationEvent.KeepCopy"/>) drops nothing here: the copy it keeps may be this node's, and
    /// its rule rules out every other copy at its next lookup.
    /// </summary>
    internal void DropPurgedUrls(InvalidationEvent e)
    {
        if (e.Kind != InvalidationKind.Purge || e.Soft || e.KeepCopy is not null) return;
        foreach (var url in e.Urls)
        {
            if (Locate(url) is not { } loc) continue;
            Interlocked.Add(ref _purgedObjects, Invalidate("http://" + loc) + Invalidate("https://" + loc));
        }
    }

    /// <summary>Empties both tiers (the invalidation stream was reset, so no stored sequence can be trusted).</summary>
    internal Task WipeAsync() => Tiers.WipeAsync();

    /// <summary>An absolute URL (or URL prefix) in the location form keys use, normalised by the host's policy; null when it is not one.</summary>
    public string? Locate(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0) return null;
        var authority = uri.IsDefaultPort ? uri.Host : uri.Authority;
        return InvalidationRules.LocationOf(CacheKey.Build(uri.Scheme, authority, uri.PathAndQuery, HostPolicies.For(authority)));
    }

    /// <summary>Invalidates every stored variant of a URL in both tiers (RFC 9111 §4.4).</summary>
    public int Invalidate(string primaryKey) => Tiers.Remove(primaryKey);
}
