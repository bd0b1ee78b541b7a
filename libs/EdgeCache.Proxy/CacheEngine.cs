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
            try
            {
                Disk = DiskStore.Open(Options.Disk, loggers.CreateLogger<DiskStore>(), Heuristics);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The cache failing is never the client's problem: run from memory and upstream.
                DiskOpenError = ex.Message;
                Log.DiskUnavailable(logger, Options.Disk.Directory, ex.Message);
            }
        }
    }

    /// <summary>Why the configured disk tier could not be opened, or null.</summary>
    public string? DiskOpenError { get; }

    /// <summary>The disk tier, or null when it is off.</summary>
    public IDiskTier? Disk { get; }

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
        await FlushDiskWritesAsync().ConfigureAwait(false);
        if (Disk is IAsyncDisposable d) await d.DisposeAsync().ConfigureAwait(false);
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
