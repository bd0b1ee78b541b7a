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

    /// <summary>Largest object stored on disk. Default 256 MiB.</summary>
    public long MaxObjectBytes { get; set; } = 256L * 1024 * 1024;

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

    public bool Enabled => !string.IsNullOrWhiteSpace(Directory);

    /// <summary>Returns the first problem with these settings, or null.</summary>
    public string? Validate()
    {
        if (!Enabled) return null;
        if (ChunkBytes is < 4096 or > 1024 * 1024) return "ChunkBytes must be between 4096 and 1048576";
        if (LogMemoryBytes < 4L * PageBytes) return $"LogMemoryBytes must be at least {4 * PageBytes}";
        if (BudgetBytes < 4 * LogMemoryBytes) return "BudgetBytes must be at least four times LogMemoryBytes";
        if (MaxObjectBytes <= 0 || MaxObjectBytes > BudgetBytes / 4) return "MaxObjectBytes must be positive and at most a quarter of BudgetBytes";
        if (IndexBytes < 64 * 1024 || (IndexBytes & (IndexBytes - 1)) != 0) return "IndexBytes must be a power of two of at least 65536";
        if (CheckpointInterval <= TimeSpan.Zero) return "CheckpointInterval must be positive";
        if (FailureLogInterval <= TimeSpan.Zero) return "FailureLogInterval must be positive";
        if (OperationTimeout <= TimeSpan.Zero) return "OperationTimeout must be positive";
        if (ReopenInterval <= TimeSpan.Zero) return "ReopenInterval must be positive";
        return null;
    }

    /// <summary>FASTER page size: a chunk record must fit in one page.</summary>
    internal const int PageBytes = 2 * 1024 * 1024;
}
