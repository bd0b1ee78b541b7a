namespace EdgeCache.Proxy;

/// <summary>
/// The node's background re-encoder (<c>EdgeCache:Recompress</c>): a hot representation made at a fast
/// level is made again at a high one (per host: <c>Compression:RecompressAfterHits</c> and the
/// <c>Recompress*Level</c> settings). The work runs on its own threads, off every request's path; what does
/// not fit in the queue is dropped (counted) and asked for again after as many hits more.
/// </summary>
public sealed class RecompressOptions
{
    /// <summary>Re-encodes running at once (each one thread, below normal priority where the OS honours it). Default 1.</summary>
    public int Concurrency { get; set; } = 1;

    /// <summary>Hot representations waiting for a re-encode; one more is dropped. Default 64.</summary>
    public int QueueLength { get; set; } = 64;

    /// <summary>Returns the first problem with these settings, or null.</summary>
    public string? Validate()
    {
        if (Concurrency is < 1 or > 64) return $"Concurrency must be 1-64 (got {Concurrency})";
        if (QueueLength is < 1 or > 100_000) return $"QueueLength must be 1-100000 (got {QueueLength})";
        return null;
    }
}
