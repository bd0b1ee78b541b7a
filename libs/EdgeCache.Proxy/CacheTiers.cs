using EdgeCache.Engine;
using Microsoft.Extensions.Logging;

namespace EdgeCache.Proxy;

/// <summary>
/// The node's storage tiers and everything that keeps them: the memory tier, the disk tier, the
/// supervisor that opens the disk store (at start, after a failed start, after a stall, after a
/// wipe), the write-behind queue to disk, and the checkpoint-state provider, which it attaches to
/// every store it opens. One per node (see <see cref="CacheEngine.Tiers"/>).
/// </summary>
public sealed class CacheTiers : IAsyncDisposable
{
    private readonly Internal.DiskWriteQueue _diskWrites;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Func<IDiskTier>? _openDisk;
    private readonly string _diskDirectory;
    private readonly ILogger _logger;
    private readonly Task? _diskSupervisor;
    private readonly object _diskLock = new();
    private volatile IDiskTier? _disk;
    private Func<byte[]>? _checkpointState;
    private long _retiredFailures;
    private long _retiredTruncatedBytes;
    private int _diskReopens;

    /// <param name="memory">The memory tier.</param>
    /// <param name="openDisk">Opens (or recovers) the disk store, throwing an <see cref="IOException"/> or
    /// <see cref="UnauthorizedAccessException"/> when it cannot; null when the disk tier is off.</param>
    /// <param name="diskDirectory">The disk tier's directory (for logs).</param>
    /// <param name="reopenInterval">How often a store that could not be opened, or has stalled, is opened again.</param>
    /// <param name="logger">Where opening failures and reopens are logged.</param>
    /// <param name="writeQueueBytes">Bytes of objects waiting for, or in, a disk write at most (see <see cref="WriteBehind"/>).</param>
    /// <param name="writeConcurrency">Disk writes running at once at most.</param>
    public CacheTiers(MemoryTier memory, Func<IDiskTier>? openDisk, string diskDirectory, TimeSpan reopenInterval, ILogger logger, long writeQueueBytes = 64L * 1024 * 1024, int writeConcurrency = 4)
    {
        Memory = memory;
        _diskWrites = new Internal.DiskWriteQueue(writeQueueBytes, writeConcurrency, WriteAsync);
        _openDisk = openDisk;
        _diskDirectory = diskDirectory;
        _logger = logger;
        if (openDisk is null) return;
        TryOpenDisk();
        _diskSupervisor = SuperviseDiskAsync(reopenInterval, _stopping.Token);
    }

    public MemoryTier Memory { get; }

    /// <summary>The disk tier, or null when it is off (or could not be opened).</summary>
    public IDiskTier? Disk => _disk;

    /// <summary>Why the configured disk tier could not be opened, or null.</summary>
    public string? DiskOpenError { get; private set; }

    /// <summary>Disk writes not done, since start (by reason: <see cref="DroppedDiskWritesFor"/>).</summary>
    public long DroppedDiskWrites => _diskWrites.DroppedTotal;

    /// <summary>Disk writes not done for one reason, since start.</summary>
    internal long DroppedDiskWritesFor(Internal.DiskWriteDrop reason) => _diskWrites.Dropped(reason);

    /// <summary>Disk writes that waited for room in the write queue, since start.</summary>
    public long DelayedDiskWrites => _diskWrites.Delayed;

    /// <summary>Bytes of objects waiting for, or in, a disk write now.</summary>
    public long QueuedDiskWriteBytes => _diskWrites.QueuedBytes;

    /// <summary>Times a store was opened after start-up (a failed start or a stall recovered), since start.</summary>
    public int DiskReopens => Volatile.Read(ref _diskReopens);

    /// <summary>Failed disk operations since start, over every store this node has opened.</summary>
    public long DiskFailures => Interlocked.Read(ref _retiredFailures) + (_disk?.Failures ?? 0);

    /// <summary>Bytes truncated from the head of the disk log since start, over every store this node has opened.</summary>
    public long DiskTruncatedBytes => Interlocked.Read(ref _retiredTruncatedBytes) + (_disk?.TruncatedBytes ?? 0);

    /// <summary>
    /// The state kept with every disk checkpoint (see <see cref="IDiskTier.CheckpointState"/>). Set it once:
    /// it is attached to the current store and to every store opened later.
    /// </summary>
    public Func<byte[]>? CheckpointState
    {
        get => Volatile.Read(ref _checkpointState);
        set
        {
            lock (_diskLock)
            {
                Volatile.Write(ref _checkpointState, value);
                if (_disk is { } disk) disk.CheckpointState = value;
            }
        }
    }

    /// <summary>Raised (on the supervisor) after a store is opened later than start-up: after a failed
    /// start, after a stall, or after <see cref="WipeAsync"/>. The store already carries <see cref="CheckpointState"/>.</summary>
    public event Action<IDiskTier>? DiskOpened;

    private IDiskTier? TryOpenDisk()
    {
        try
        {
            var disk = _openDisk!();
            lock (_diskLock)
            {
                disk.CheckpointState = Volatile.Read(ref _checkpointState);
                _disk = disk;
            }

            DiskOpenError = null;
            return disk;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The cache failing is never the client's problem: run from memory and upstream.
            if (DiskOpenError != ex.Message) Log.DiskUnavailable(_logger, _diskDirectory, ex.Message);
            DiskOpenError = ex.Message;
            return null;
        }
    }

    private void Opened(IDiskTier disk)
    {
        Interlocked.Increment(ref _diskReopens);
        DiskOpened?.Invoke(disk);
    }

    /// <summary>Reopens a store that could not be opened or has stalled, so the node recovers when the disk does.</summary>
    private async Task SuperviseDiskAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                var current = _disk;
                if (current is not null && !current.Stalled) continue;

                // A stalled store fails every call at once: it serves as a miss until its replacement is open.
                if (TryOpenDisk() is not { } opened) continue;
                Log.DiskReopened(_logger, _diskDirectory);
                if (current is not null) Retire(current);
                Opened(opened);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Keeps a replaced store's counters in the totals and disposes it in the background.</summary>
    private void Retire(IDiskTier disk)
    {
        Interlocked.Add(ref _retiredFailures, disk.Failures);
        Interlocked.Add(ref _retiredTruncatedBytes, disk.TruncatedBytes);
        _ = disk.DisposeAsync().AsTask();
    }

    /// <summary>
    /// Writes a complete response to disk in the background, when the disk tier is on and the object
    /// fits it. The write queue is bounded in bytes: past it, the write is dropped when
    /// <paramref name="upstreamHolds"/> (the object has another copy upstream), and otherwise waits
    /// for room. The task completes when the write is queued (or dropped), not when it is done;
    /// awaiting it is how a request that brings new objects slows to the disk's pace.
    /// </summary>
    /// <param name="primaryKey">The object's URL key.</param>
    /// <param name="entry">The complete response.</param>
    /// <param name="upstreamHolds">The object has another copy upstream: the write may be dropped when the queue is full.</param>
    /// <param name="untilWritten">Complete only when the write is done (or dropped): for an object the memory
    /// tier did not take, so that until the disk holds it the fetch that brought it stays joinable.</param>
    public Task WriteBehind(string primaryKey, CachedResponse entry, bool upstreamHolds = false, bool untilWritten = false)
    {
        if (_openDisk is null) return Task.CompletedTask;
        if (Disk is not { } disk)
        {
            _diskWrites.Drop(Internal.DiskWriteDrop.Unavailable);
            return Task.CompletedTask;
        }

        if (entry.Body.Length > disk.MaxObjectBytes) return Task.CompletedTask;
        var written = untilWritten ? new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) : null;
        var queued = _diskWrites.Enqueue(new Internal.DiskWriteQueue.Write(primaryKey, entry, written), mayDrop: upstreamHolds);
        return written?.Task ?? queued;
    }

    /// <summary>Writes one queued object to the store open now (a store replaced meanwhile is not written to).</summary>
    private async Task WriteAsync(Internal.DiskWriteQueue.Write write)
    {
        if (Disk is not { } disk)
        {
            _diskWrites.Drop(Internal.DiskWriteDrop.Unavailable);
            return;
        }

        await disk.PutAsync(write.PrimaryKey, write.Entry, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Waits for the disk writes queued and in flight (tests, shutdown).</summary>
    public Task FlushDiskWritesAsync() => _diskWrites.FlushAsync();

    /// <summary>Removes every stored variant of a URL from both tiers; returns how many memory held.</summary>
    public int Remove(string primaryKey)
    {
        if (Disk is { } disk) _ = disk.RemoveAsync(primaryKey, CancellationToken.None).AsTask();
        return Memory.Remove(primaryKey);
    }

    /// <summary>Empties both tiers: memory, and the disk store's files (a new, empty store is opened in its place).</summary>
    public async Task WipeAsync()
    {
        Memory.Update(static _ => true, static _ => null);
        IDiskTier? disk;
        lock (_diskLock)
        {
            disk = _disk;
            _disk = null;
        }

        if (disk is null) return;
        await FlushDiskWritesAsync().ConfigureAwait(false);
        Interlocked.Add(ref _retiredFailures, disk.Failures);
        Interlocked.Add(ref _retiredTruncatedBytes, disk.TruncatedBytes);
        await disk.DisposeAsync().ConfigureAwait(false);
        try
        {
            Directory.Delete(disk.StoreDirectory, recursive: true);
        }
        catch (IOException)
        {
        }

        if (TryOpenDisk() is { } opened) Opened(opened);
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        if (_diskSupervisor is not null) await _diskSupervisor.ConfigureAwait(false);
        await FlushDiskWritesAsync().ConfigureAwait(false);
        if (_disk is { } d) await d.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }
}
