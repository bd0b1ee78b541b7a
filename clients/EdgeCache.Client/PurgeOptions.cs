namespace EdgeCache.Client;

/// <summary>How one purge is made.</summary>
public sealed record PurgeOptions : EdgeCacheCallOptions
{
    /// <summary>Mark stale instead of removing: the next request revalidates with the origin (a 304 keeps
    /// the copy), and it may be served stale where the response allows.</summary>
    public bool Soft { get; init; }
}
