using System.Buffers;
using EdgeCache.Engine;
using EdgeCache.Storage.Internal;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.Storage;

/// <summary>Lookups: the URL record, the variant, its metadata and its verified chunks, read whole
/// or streamed into the body while the caller serves it.</summary>
public sealed partial class DiskStore
{
    public async ValueTask<CachedResponse?> GetAsync(string primaryKey, IHeaderDictionary requestHeaders, long completeUpToBytes, CancellationToken cancellationToken, Func<CachedResponse, long>? firstByte = null)
    {
        try
        {
            var urlBytes = await ReadAsync(StoreKey.ForUrl(primaryKey), cancellationToken).ConfigureAwait(false);
            if (urlBytes is null) return Succeeded<CachedResponse>(null);
            var url = UrlRecord.Decode(urlBytes, primaryKey);
            if (url is null)
            {
                Log.Corrupt(_logger, "URL record");
                await DeleteAsync(StoreKey.ForUrl(primaryKey)).ConfigureAwait(false);
                return null;
            }

            var variant = url.Variants.FirstOrDefault(v => Matches(v, requestHeaders));
            if (variant is null) return Succeeded<CachedResponse>(null);

            var metaBytes = await ReadAsync(StoreKey.ForMeta(variant.ObjectId), cancellationToken).ConfigureAwait(false);
            var meta = metaBytes is null ? null : MetaRecord.Decode(metaBytes);
            if (meta is null)
            {
                // Truncated away, or corrupt: the object is gone.
                if (metaBytes is not null) Log.Corrupt(_logger, "metadata");
                await RemoveVariantAsync(primaryKey, variant.ObjectId).ConfigureAwait(false);
                return null;
            }

            CacheBody body;
            if (meta.BodyLength <= completeUpToBytes)
            {
                var whole = await ReadWholeAsync(variant.ObjectId, meta, cancellationToken).ConfigureAwait(false);
                if (whole is null)
                {
                    await RemoveVariantAsync(primaryKey, variant.ObjectId).ConfigureAwait(false);
                    return null;
                }

                body = whole;
            }
            else
            {
                // Large: stream from disk while the caller serves it, one window ahead of the client.
                // A range read starts at the chunk that holds its first byte: only the chunks it
                // needs are read.
                var start = 0L;
                if (firstByte is not null)
                {
                    var probe = CachedResponseFactory.Restore(meta.Status, WithLength(meta), CacheBody.FromBytes([]), meta.RequestTime, meta.ResponseTime, meta.CorrectedInitialAge, meta.VaryValues, meta.StoredAt, _heuristics, meta.StoredSeq);
                    start = Math.Clamp(firstByte(probe), 0, meta.BodyLength);
                }

                var firstChunk = start / meta.ChunkBytes;
                body = new CacheBody(meta.BodyLength, 64 * 1024, firstChunk * meta.ChunkBytes);
                body.MakeTransient(4L * meta.ChunkBytes);
                _ = StreamChunksAsync(primaryKey, variant.ObjectId, meta, body, firstChunk);
            }

            return Succeeded(CachedResponseFactory.Restore(meta.Status, WithLength(meta), body, meta.RequestTime, meta.ResponseTime, meta.CorrectedInitialAge, meta.VaryValues, meta.StoredAt, _heuristics, meta.StoredSeq));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ReportFailure("read", ex);
            return null;
        }
    }

    /// <summary>The stored fields, with the stored length as Content-Length when the origin sent none
    /// (it was chunked): a body streamed from disk is then sent with its length, and a range on it
    /// can be answered before the last chunk is read.</summary>
    private static KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>[] WithLength(MetaRecord meta)
    {
        foreach (var h in meta.Headers)
        {
            if (h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) return meta.Headers;
        }

        return [.. meta.Headers, new("Content-Length", meta.BodyLength.ToString(System.Globalization.CultureInfo.InvariantCulture))];
    }

    private async Task StreamChunksAsync(string primaryKey, ulong objectId, MetaRecord meta, CacheBody body, long firstChunk)
    {
        try
        {
            if (!await AppendChunksAsync(objectId, meta, body, firstChunk, _stopping.Token).ConfigureAwait(false))
            {
                // Removed before the reader learns of it, so its next lookup is a miss.
                await RemoveVariantAsync(primaryKey, objectId).ConfigureAwait(false);
                body.Fail(new IOException("A stored chunk is missing or corrupt."));
                return;
            }

            body.Complete();
        }
        catch (Exception ex)
        {
            body.Fail(ex);
        }
    }

    /// <summary>
    /// A complete body, or null when a chunk is missing, short or corrupt. Up to what
    /// <see cref="CacheBody"/> holds in one array, the chunks are read straight into that array
    /// (one copy, out of the log) and the body is made over it; a larger body is appended chunk by chunk.
    /// </summary>
    private async ValueTask<CacheBody?> ReadWholeAsync(ulong objectId, MetaRecord meta, CancellationToken cancellationToken)
    {
        if (meta.BodyLength <= CacheBody.SingleSegmentLimit)
        {
            // Not pooled: the array becomes the body, which hits share for as long as it is cached.
            // When a read fails it is dropped, never served; a read that timed out may still write into it.
            var bytes = meta.BodyLength == 0 ? [] : GC.AllocateUninitializedArray<byte>((int)meta.BodyLength);
            for (long i = 0; i < meta.ChunkCount; i++)
            {
                var chunk = bytes.AsMemory((int)(i * meta.ChunkBytes), ChunkLength(meta, i));
                if (!await ReadChunkAsync(objectId, i, chunk, cancellationToken).ConfigureAwait(false)) return null;
            }

            return CacheBody.FromBytes(bytes);
        }

        var body = new CacheBody(meta.BodyLength);
        if (!await AppendChunksAsync(objectId, meta, body, 0, cancellationToken).ConfigureAwait(false)) return null;
        body.Complete();
        return body;
    }

    /// <summary>
    /// Reads chunks from <paramref name="firstChunk"/> on into a rented buffer, verifies each and
    /// appends it to <paramref name="body"/> (which copies it); false at the first one missing, short
    /// or corrupt, of which nothing is appended. The buffer goes back to the pool only when every read
    /// into it has finished: after a read that timed out or was cancelled, a worker may still write
    /// into it, so it is then left to the GC.
    /// </summary>
    private async ValueTask<bool> AppendChunksAsync(ulong objectId, MetaRecord meta, CacheBody body, long firstChunk, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(meta.ChunkBytes);
        for (var i = firstChunk; i < meta.ChunkCount; i++)
        {
            var chunk = buffer.AsMemory(0, ChunkLength(meta, i));
            if (!await ReadChunkAsync(objectId, i, chunk, cancellationToken).ConfigureAwait(false))
            {
                ArrayPool<byte>.Shared.Return(buffer);
                return false;
            }

            await body.AppendAsync(chunk, cancellationToken).ConfigureAwait(false);
        }

        ArrayPool<byte>.Shared.Return(buffer);
        return true;
    }

    private static int ChunkLength(MetaRecord meta, long index) => (int)Math.Min(meta.ChunkBytes, meta.BodyLength - index * meta.ChunkBytes);

    /// <summary>
    /// Reads one chunk straight into <paramref name="into"/>, which is its exact length, and verifies it.
    /// False when it is missing, short or corrupt: what <paramref name="into"/> then holds must not be used.
    /// </summary>
    private async ValueTask<bool> ReadChunkAsync(ulong objectId, long index, Memory<byte> into, CancellationToken cancellationToken)
    {
        var read = await ReadIntoAsync(StoreKey.ForChunk(objectId, index), into, cancellationToken).ConfigureAwait(false);
        if (read is not { } chunk) return false;
        if (chunk.Length != into.Length + 8 || chunk.Prefix != Checksummed.ChunkHash(objectId, index, into.Span))
        {
            Log.Corrupt(_logger, "chunk");
            return false;
        }

        return true;
    }

    private static bool Matches(VariantRef variant, IHeaderDictionary requestHeaders)
    {
        for (var i = 0; i < variant.VaryNames.Length; i++)
        {
            var name = variant.VaryNames[i];
            if (name == "*") return false;
            if (!string.Equals(variant.VaryValues[i], Vary.Normalize(name, requestHeaders[name]), StringComparison.Ordinal)) return false;
        }

        return true;
    }
}
