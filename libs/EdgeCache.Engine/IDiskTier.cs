using Microsoft.AspNetCore.Http;

namespace EdgeCache.Engine;

/// <summary>
/// The second tier, larger than memory and kept across restarts. The engine only sees this
/// contract; the FASTER implementation lives in EdgeCache.Storage. Every call is safe to fail:
/// a store error is logged by the implementation and shows up as a miss or a dropped write.
/// </summary>
public interface IDiskTier
{
    /// <summary>False while the store is failing (I/O errors, disk full); the node passes through.</summary>
    bool Healthy { get; }

    /// <summary>The largest object the tier stores.</summary>
    long MaxObjectBytes { get; }

    /// <summary>
    /// Looks up the variant of <paramref name="primaryKey"/> that the request selects. A small object
    /// comes back complete (its chunks read and verified); a larger one streams from disk into its
    /// body while the caller serves it. A corrupt or incomplete record is deleted and reported as a miss.
    /// </summary>
    /// <param name="firstByte">For a streamed object: given its metadata, the first byte the caller
    /// will read (a range request); chunks before it are not read.</param>
    ValueTask<CachedResponse?> GetAsync(string primaryKey, IHeaderDictionary requestHeaders, long completeUpToBytes, CancellationToken cancellationToken, Func<CachedResponse, long>? firstByte = null);

    /// <summary>Stores a complete response, replacing the variant with the same secondary key.</summary>
    ValueTask PutAsync(string primaryKey, CachedResponse response, CancellationToken cancellationToken);

    /// <summary>Removes every variant of a URL.</summary>
    ValueTask RemoveAsync(string primaryKey, CancellationToken cancellationToken);
}
