using System.Buffers.Binary;
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
                body = new CacheBody(meta.BodyLength);
                for (long i = 0; i < meta.ChunkCount; i++)
                {
                    var chunk = await ReadChunkAsync(variant.ObjectId, i, meta, cancellationToken).ConfigureAwait(false);
                    if (chunk is null)
                    {
                        await RemoveVariantAsync(primaryKey, variant.ObjectId).ConfigureAwait(false);
                        return null;
                    }

                    body.Append(chunk.Value.Span);
                }

                body.Complete();
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
            for (var i = firstChunk; i < meta.ChunkCount; i++)
            {
                var chunk = await ReadChunkAsync(objectId, i, meta, _stopping.Token).ConfigureAwait(false);
                if (chunk is null)
                {
                    // Removed before the reader learns of it, so its next lookup is a miss.
                    await RemoveVariantAsync(primaryKey, objectId).ConfigureAwait(false);
                    body.Fail(new IOException("A stored chunk is missing or corrupt."));
                    return;
                }

                await body.AppendAsync(chunk.Value, _stopping.Token).ConfigureAwait(false);
            }

            body.Complete();
        }
        catch (Exception ex)
        {
            body.Fail(ex);
        }
    }

    /// <summary>Reads and verifies one chunk; null when it is missing, short or corrupt.</summary>
    private async ValueTask<ReadOnlyMemory<byte>?> ReadChunkAsync(ulong objectId, long index, MetaRecord meta, CancellationToken cancellationToken)
    {
        var data = await ReadAsync(StoreKey.ForChunk(objectId, index), cancellationToken).ConfigureAwait(false);
        var expected = (int)Math.Min(meta.ChunkBytes, meta.BodyLength - index * meta.ChunkBytes);
        if (data is null) return null;
        if (data.Length != expected + 8
            || BinaryPrimitives.ReadUInt64LittleEndian(data) != Checksummed.ChunkHash(objectId, index, data.AsSpan(8)))
        {
            Log.Corrupt(_logger, "chunk");
            return null;
        }

        return data.AsMemory(8);
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
