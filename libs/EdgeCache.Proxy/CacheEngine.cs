using EdgeCache.Engine;
using EdgeCache.Proxy.Internal;
using EdgeCache.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeCache.Proxy;

/// <summary>The node's cache: tiers, in-flight fetches and the settings they run by. One per node.</summary>
public sealed class CacheEngine : IAsyncDisposable
{
    /// <summary>Disk writes in flight at most; beyond it a write is dropped (the object stays in memory).</summary>
    private const int MaxPendingDiskWrites = 8;

    private readonly SemaphoreSlim _diskWrites = new(MaxPendingDiskWrites, MaxPendingDiskWrites);
    private long _droppedDiskWrites;

    public CacheEngine(IOptions<EdgeCacheOptions> options, CacheClock clock, ILogger<CacheEngine> logger, ILoggerFactory loggers)
    {
        Options = options.Value;
        Time = clock.Time;
        Logger = logger;
        Memory = new MemoryTier(Options.MemoryBudgetBytes, Options.MaxObjectBytes);
        Heuristics = new HeuristicOptions(Options.HeuristicFraction, Options.HeuristicMaxAge);
        ViaToken = "1.1 " + Options.NodeId;
        if (Options.Disk.Enabled)
        {
            _diskLogger = loggers.CreateLogger<DiskStore>();
            TryOpenDisk();
            _diskSupervisor = SuperviseDiskAsync(_stopping.Token);
        }
    }

    /// <summary>Why the configured disk tier could not be opened, or null.</summary>
    public string? DiskOpenError { get; private set; }

    private readonly CancellationTokenSource _stopping = new();
    private readonly ILogger? _diskLogger;
    private readonly Task? _diskSupervisor;
    private volatile DiskStore? _disk;

    private bool TryOpenDisk()
    {
        try
        {
            _disk = DiskStore.Open(Options.Disk, _diskLogger!, Heuristics);
            DiskOpenError = null;
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The cache failing is never the client's problem: run from memory and upstream.
            if (DiskOpenError != ex.Message) Log.DiskUnavailable(Logger, Options.Disk.Directory, ex.Message);
            DiskOpenError = ex.Message;
            return false;
        }
    }

    /// <summary>Reopens a store that could not be opened or has stalled, so the node recovers when the disk does.</summary>
    private async Task SuperviseDiskAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Options.Disk.ReopenInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                var current = _disk;
                if (current is not null && !current.Stalled) continue;
                _disk = null;
                if (TryOpenDisk()) Log.DiskReopened(Logger, Options.Disk.Directory);
                else _disk = current;
                if (current is not null && !ReferenceEquals(current, _disk)) _ = current.DisposeAsync().AsTask();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    internal System.Diagnostics.Metrics.Counter<long>? RequestCounter { get; set; }

    private long _requests;
    private long _hits;

    /// <summary>Requests counted by outcome since start, and how many of them were hits.</summary>
    public (long Requests, long Hits) RequestTotals => (Interlocked.Read(ref _requests), Interlocked.Read(ref _hits));

    /// <summary>Counts one request by its cache outcome (hit, stale, revalidated, miss, pass, error).</summary>
    internal void CountRequest(string outcome, string? detail = null)
    {
        Interlocked.Increment(ref _requests);
        if (outcome == "hit") Interlocked.Increment(ref _hits);
        if (RequestCounter is not { Enabled: true } counter) return;
        var tags = new System.Diagnostics.TagList { { "edgecache.outcome", outcome }, { "edgecache.tier", Options.Role == NodeRole.Edge ? "edge" : "shield" } };
        if (detail is not null) tags.Add("edgecache.detail", detail);
        counter.Add(1, tags);
    }

    /// <summary>The disk tier, or null when it is off (or could not be opened).</summary>
    public IDiskTier? Disk => _disk;

    /// <summary>The largest object either tier stores.</summary>
    public long MaxStoredObjectBytes => Math.Max(Memory.MaxObjectBytes, Disk?.MaxObjectBytes ?? 0);

    /// <summary>Disk writes dropped because the disk fell behind, since start.</summary>
    public long DroppedDiskWrites => Interlocked.Read(ref _droppedDiskWrites);

    /// <summary>Stores a complete response in memory (when it fits) and on disk (in the background).</summary>
    public void Store(string primaryKey, CachedResponse entry)
    {
        Memory.Set(primaryKey, entry);
        if (Disk is not { } disk || entry.Body.Length > disk.MaxObjectBytes) return;
        if (!_diskWrites.Wait(0))
        {
            Interlocked.Increment(ref _droppedDiskWrites);
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await disk.PutAsync(primaryKey, entry, CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                _diskWrites.Release();
            }
        });
    }

    /// <summary>Waits for the disk writes in flight (tests, shutdown).</summary>
    public async Task FlushDiskWritesAsync()
    {
        for (var i = 0; i < MaxPendingDiskWrites; i++) await _diskWrites.WaitAsync().ConfigureAwait(false);
        _diskWrites.Release(MaxPendingDiskWrites);
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        if (_diskSupervisor is not null) await _diskSupervisor.ConfigureAwait(false);
        await FlushDiskWritesAsync().ConfigureAwait(false);
        if (_disk is { } d) await d.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    public EdgeCacheOptions Options { get; }

    public TimeProvider Time { get; }

    public MemoryTier Memory { get; }

    public HeuristicOptions Heuristics { get; }

    internal ILogger Logger { get; }

    internal FlightTable Flights { get; } = new();

    /// <summary>This node's Via entry (RFC 9110 §7.6.3), with its id as pseudonym.</summary>
    internal string ViaToken { get; }

    /// <summary>Invalidates every stored variant of a URL in both tiers (RFC 9111 §4.4).</summary>
    public int Invalidate(string primaryKey)
    {
        if (Disk is { } disk) _ = disk.RemoveAsync(primaryKey, CancellationToken.None).AsTask();
        return Memory.Remove(primaryKey);
    }
}
