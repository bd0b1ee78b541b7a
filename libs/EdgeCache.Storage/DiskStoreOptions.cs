namespace EdgeCache.Storage;

/// <summary>What a node does with a store it cannot use (another format version, or unrecoverable).</summary>
public enum IncompatibleStoreAction
{
    /// <summary>Rename it to <c>store.set-aside-{time}</c> beside the new one, for inspection.</summary>
    SetAside,

    /// <summary>Delete it.</summary>
    Wipe,
}

/// <summary>Settings of the disk tier (configuration section <c>EdgeCache:Disk</c>).</summary>
public sealed class DiskStoreOptions
{
    /// <summary>Directory of this node's store. Empty turns the disk tier off.</summary>
    public string Directory { get; set; } = "";

    /// <summary>Bytes of log the store may keep on disk; the oldest data is truncated beyond it. Default 10 GiB.</summary>
    public long BudgetBytes { get; set; } = 10L * 1024 * 1024 * 1024;

    /// <summary>Largest object stored on disk. Default 256 MiB, or a quarter of <see cref="BudgetBytes"/> when
    /// that is less (so a small budget needs no second setting); set, it must be at most that quarter.</summary>
    public long MaxObjectBytes
    {
        get => _maxObjectBytes ?? Math.Min(DefaultMaxObjectBytes, BudgetBytes / 4);
        set => _maxObjectBytes = value;
    }

    private long? _maxObjectBytes;

    private const long DefaultMaxObjectBytes = 256L * 1024 * 1024;

    /// <summary>Body chunk size; each chunk is one record with its own checksum. Default 256 KiB.</summary>
    public int ChunkBytes { get; set; } = 256 * 1024;

    /// <summary>Memory FASTER keeps for the tail of its log. Default 64 MiB.</summary>
    public long LogMemoryBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Size of FASTER's hash index in bytes (a power of two). Default 8 MiB.</summary>
    public long IndexBytes { get; set; } = 8L * 1024 * 1024;

    /// <summary>How often the store checkpoints (it also does on a graceful stop). Default 1 minute.</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>What to do with a store of another format version, or one that cannot be recovered.</summary>
    public IncompatibleStoreAction OnIncompatibleStore { get; set; } = IncompatibleStoreAction.SetAside;

    /// <summary>How often a failing store logs its failure (once per interval, not per request). Default 1 minute.</summary>
    public TimeSpan FailureLogInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Longest a store operation may take. Past it the store counts as stalled (a failed write can leave
    /// FASTER waiting forever for a page flush): calls fail at once, as misses and dropped writes, until
    /// the operation finishes. Default 10 seconds.
    /// </summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often a node whose store could not be opened, or has stalled, tries to open it
    /// again (so it recovers when the disk does). Default 30 seconds.</summary>
    public TimeSpan ReopenInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Bytes of objects waiting to be written to disk at most. A burst of new objects waits within it
    /// (the disk catches up); past it, a write is dropped only where the object has another copy (an
    /// edge whose shield stored it), and a write of the last copy waits for room, slowing the requests
    /// that bring new objects to the disk's pace. Default 64 MiB.
    /// </summary>
    public long WriteQueueBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Objects written to disk at the same time at most. Default 4.</summary>
    public int WriteConcurrency { get; set; } = 4;

    /// <summary>
    /// On which disk hit an object is copied to the memory tier: 2 (the default) on its second within a
    /// window of about as many disk hits on other objects as memory holds objects, as Traffic Server's
    /// RAM-cache seen filter admits objects, so objects read from disk less often than memory turns over
    /// never push hotter ones out; 1 on every disk hit (the behaviour before this setting).
    /// </summary>
    public int PromoteOnHit { get; set; } = 2;

    public bool Enabled => !string.IsNullOrWhiteSpace(Directory);

    /// <summary>Returns the first problem with these settings, or null.</summary>
    public string? Validate()
    {
        if (!Enabled) return null;
        if (ChunkBytes is < 4096 or > 1024 * 1024) return "ChunkBytes must be between 4096 and 1048576";
        if (LogMemoryBytes < 4L * PageBytes) return $"LogMemoryBytes must be at least {4 * PageBytes}";
        if (BudgetBytes < 4 * LogMemoryBytes) return "BudgetBytes must be at least four times LogMemoryBytes";
        if (BudgetBytes - ReservedBytes < 3 * LogMemoryBytes) return $"BudgetBytes must be at least three times LogMemoryBytes plus {ReservedBytes} bytes for checkpoints and truncation slack (four times IndexBytes, a log segment and 3 MiB)";
        if (MaxObjectBytes <= 0 || MaxObjectBytes > BudgetBytes / 4) return $"MaxObjectBytes must be positive and at most a quarter of BudgetBytes ({BudgetBytes / 4}; got {MaxObjectBytes})";
        if (IndexBytes < 64 * 1024 || (IndexBytes & (IndexBytes - 1)) != 0) return "IndexBytes must be a power of two of at least 65536";
        if (WriteQueueBytes < 1024 * 1024) return "WriteQueueBytes must be at least 1048576";
        if (WriteConcurrency is < 1 or > 64) return "WriteConcurrency must be between 1 and 64";
        if (CheckpointInterval <= TimeSpan.Zero) return "CheckpointInterval must be positive";
        if (FailureLogInterval <= TimeSpan.Zero) return "FailureLogInterval must be positive";
        if (OperationTimeout <= TimeSpan.Zero) return "OperationTimeout must be positive";
        if (ReopenInterval <= TimeSpan.Zero) return "ReopenInterval must be positive";
        if (PromoteOnHit is not (1 or 2)) return "PromoteOnHit must be 1 (promote to memory on every disk hit) or 2 (on the second)";
        return null;
    }

    /// <summary>FASTER page size: a chunk record must fit in one page.</summary>
    internal const int PageBytes = 2 * 1024 * 1024;

    /// <summary>
    /// Log segment file size: truncation frees whole segments, so they are kept small next to the
    /// budget (8 MiB, halved for budgets under 128 MiB, at least two pages).
    /// </summary>
    internal long SegmentBytes
    {
        get
        {
            var segment = 8L * 1024 * 1024;
            while (segment > PageBytes * 2 && segment > BudgetBytes / 16) segment /= 2;
            return segment;
        }
    }

    /// <summary>
    /// Bytes of the budget not given to the log: two checkpoints of the hash index (a new one is
    /// written before the old is removed), with as much again for its overflow buckets; a segment
    /// that truncation has not yet freed; and a page and a megabyte for the checkpoints' metadata.
    /// </summary>
    internal long ReservedBytes => 4 * IndexBytes + SegmentBytes + PageBytes + 1024 * 1024;
}
