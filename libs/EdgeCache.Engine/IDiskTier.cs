using Microsoft.AspNetCore.Http;

namespace EdgeCache.Engine;

/// <summary>
/// The second tier, larger than memory and kept across restarts. The engine only sees this
/// contract; the FASTER implementation lives in EdgeCache.Storage. Every call is safe to fail:
/// a store error is logged by the implementation and shows up as a miss or a dropped write.
/// </summary>
public interface IDiskTier : IAsyncDisposable
{
    /// <summary>False while the store is failing (I/O errors, disk full); the node passes through.</summary>
    bool Healthy { get; }

    /// <summary>True while an operation has outlived its timeout: every call fails at once, and the
    /// node replaces the store with a newly opened one.</summary>
    bool Stalled { get; }

    /// <summary>The largest object the tier stores.</summary>
    long MaxObjectBytes { get; }

    /// <summary>The directory the store keeps its files in (deleted when the node empties its tiers).</summary>
    string StoreDirectory { get; }

    /// <summary>How the store came up: recovered (from a checkpoint), new, or set aside (an unusable one was moved away or wiped).
    /// Logs print it with <see cref="DiskOpenedAsExtensions.ToWord"/>.</summary>
    DiskOpenedAs OpenedAs { get; }

    /// <summary>True when the store came up with objects recovered from an earlier checkpoint.</summary>
    bool HasRecoveredData => OpenedAs == DiskOpenedAs.Recovered && LogBytes > 0;

    /// <summary>Bytes of log the store holds (what its budget bounds).</summary>
    long LogBytes { get; }

    /// <summary>Bytes dropped from the head of the log to stay within the budget, since the store opened.</summary>
    long TruncatedBytes { get; }

    /// <summary>Failed store operations since the store opened.</summary>
    long Failures { get; }

    /// <summary>
    /// State the node keeps with each checkpoint (its invalidation rules and last applied stream
    /// sequence), written into the store just before each checkpoint so that after recovery the objects
    /// and the state describe the same moment. Null: checkpoints keep no state.
    /// </summary>
    Func<byte[]>? CheckpointState { get; set; }

    /// <summary>The state written with the checkpoint the store was recovered from, or null (new store, none kept, or corrupt).</summary>
    ValueTask<byte[]?> ReadStateAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Looks up the variant of <paramref name="primaryKey"/> that the request selects. A small object
    /// comes back complete (its chunks read and verified); a larger one streams from disk into its
    /// body while the caller serves it. A corrupt or incomplete record is deleted and reported as a miss.
    /// </summary>
    /// <param name="firstByte">For a streamed object: given its metadata, the first byte the caller
    /// will read (a range request); chunks before it are not read.</param>
    /// <param name="rentAboveBytes">An object read complete that is larger than this comes in an array rented
    /// from the shared pool (<see cref="CacheBody.IsRented"/>): the caller serves it once, never stores it, and
    /// gives it back with <see cref="CacheBody.ReturnRented"/>. For objects the memory tier would not take.</param>
    ValueTask<CachedResponse?> GetAsync(string primaryKey, IHeaderDictionary requestHeaders, long completeUpToBytes, CancellationToken cancellationToken, Func<CachedResponse, long>? firstByte = null, long rentAboveBytes = long.MaxValue);

    /// <summary>Stores a complete response, replacing the variant with the same secondary key.</summary>
    ValueTask PutAsync(string primaryKey, CachedResponse response, CancellationToken cancellationToken);

    /// <summary>Removes every variant of a URL.</summary>
    ValueTask RemoveAsync(string primaryKey, CancellationToken cancellationToken);
}
