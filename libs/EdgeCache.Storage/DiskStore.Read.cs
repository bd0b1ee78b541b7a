using System.Buffers;
using EdgeCache.Engine;
using EdgeCache.Storage.Internal;
using FASTER.core;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.Storage;

/// <summary>Lookups: the URL record, the variant, its metadata and its verified chunks, read whole
/// or streamed into the body while the caller serves it.</summary>
public sealed partial class DiskStore
{
    public async ValueTask<CachedResponse?> GetAsync(string primaryKey, IHeaderDictionary requestHeaders, long completeUpToBytes, CancellationToken cancellationToken, Func<CachedResponse, long>? firstByte = null, long rentAboveBytes = long.MaxValue)
    {
        try
        {
            // The whole lookup (URL record, variant, metadata and, for an object read whole, its chunks) on
            // this thread, with a pooled session: no trip to a worker, whose two thread hops each read used to cost.
            // Not cancelled once begun: it is short (bounded by OperationTimeout), and its session and array
            // are only reused once it has finished.
            cancellationToken.ThrowIfCancellationRequested();
            var found = await WithReadSessionAsync(s => FindAsync(s, primaryKey, requestHeaders, completeUpToBytes, rentAboveBytes)).ConfigureAwait(false);
            switch (found.Kind)
            {
                case FoundKind.None:
                    return Succeeded<CachedResponse>(null);
                case FoundKind.CorruptUrl:
                    Log.Corrupt(_logger, "URL record");
                    await DeleteAsync(StoreKey.ForUrl(primaryKey)).ConfigureAwait(false);
                    return null;
                case FoundKind.Gone:
                    // Metadata truncated away or corrupt, or a chunk missing, short or corrupt: the object is gone.
                    await RemoveVariantAsync(primaryKey, found.ObjectId).ConfigureAwait(false);
                    return null;
            }

            var meta = found.Meta!;
            CacheBody body;
            if (found.Kind == FoundKind.Whole)
            {
                body = found.Rented ? CacheBody.FromRented(found.Bytes!, (int)meta.BodyLength) : CacheBody.FromBytes(found.Bytes!);
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
                _ = StreamChunksAsync(primaryKey, found.ObjectId, meta, body, firstChunk);
            }

            return Succeeded(CachedResponseFactory.Restore(meta.Status, WithLength(meta), body, meta.RequestTime, meta.ResponseTime, meta.CorrectedInitialAge, meta.VaryValues, meta.StoredAt, _heuristics, meta.StoredSeq));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ReportFailure("read", ex);
            return null;
        }
    }

    private enum FoundKind
    {
        None,
        CorruptUrl,
        Gone,
        Whole,
        Large,
    }

    private readonly record struct Found(FoundKind Kind, ulong ObjectId = 0, MetaRecord? Meta = null, byte[]? Bytes = null, bool Rented = false);

    /// <summary>
    /// The lookup: the URL record, the variant the request selects, its metadata, and (up to
    /// <paramref name="wholeUpTo"/> bytes, within what one array holds) its chunks read straight into the
    /// body's array (one copy, out of the log) and verified. Nothing here writes: what the caller must
    /// delete it deletes after, under the URL's lock.
    /// </summary>
    private async ValueTask<Found> FindAsync(ClientSession<StoreKey, SpanByte, SpanByte, ReadOutput, Empty, StoreFunctions> session, string primaryKey, IHeaderDictionary requestHeaders, long wholeUpTo, long rentAbove)
    {
        var (hasUrl, urlOutput) = await ReadInlineAsync(session, StoreKey.ForUrl(primaryKey), default).ConfigureAwait(false);
        if (!hasUrl) return new(FoundKind.None);
        var url = UrlRecord.Decode(urlOutput.Bytes!, primaryKey);
        if (url is null) return new(FoundKind.CorruptUrl);

        var variant = url.Variants.FirstOrDefault(v => Matches(v, requestHeaders));
        if (variant is null) return new(FoundKind.None);

        var (hasMeta, metaOutput) = await ReadInlineAsync(session, StoreKey.ForMeta(variant.ObjectId), default).ConfigureAwait(false);
        var meta = hasMeta ? MetaRecord.Decode(metaOutput.Bytes!) : null;
        if (meta is null)
        {
            if (hasMeta) Log.Corrupt(_logger, "metadata");
            return new(FoundKind.Gone, variant.ObjectId);
        }

        if (meta.BodyLength > wholeUpTo || meta.BodyLength > CacheBody.SingleSegmentLimit) return new(FoundKind.Large, variant.ObjectId, meta);

        // An object a tier may keep gets its own array, which hits then share for as long as it is cached;
        // one served once and dropped (above rentAbove) a pooled one, not a new large-object-heap array
        // per hit (measured: those made the GC and the pool's trimming a quarter of an L2 hit's CPU).
        // When a read times out the rented array is simply dropped: the device may still write into it,
        // so it must not go back to the pool.
        var rented = meta.BodyLength > rentAbove;
        var bytes = meta.BodyLength == 0 ? [] : rented ? ArrayPool<byte>.Shared.Rent((int)meta.BodyLength) : GC.AllocateUninitializedArray<byte>((int)meta.BodyLength);
        for (long i = 0; i < meta.ChunkCount; i++)
        {
            var chunk = bytes.AsMemory((int)(i * meta.ChunkBytes), ChunkLength(meta, i));
            var (hasChunk, chunkOutput) = await ReadInlineAsync(session, StoreKey.ForChunk(variant.ObjectId, i), new ReadOutput { Into = chunk, HasInto = true }).ConfigureAwait(false);
            if (hasChunk && Verified(chunkOutput, variant.ObjectId, i, chunk.Span)) continue;
            if (rented) ArrayPool<byte>.Shared.Return(bytes);
            return new(FoundKind.Gone, variant.ObjectId);
        }

        return new(FoundKind.Whole, variant.ObjectId, meta, bytes, rented && bytes.Length > 0);
    }

    /// <summary>A chunk read into <paramref name="into"/> is its exact length and its checksum holds; logged when not.</summary>
    private bool Verified(ReadOutput read, ulong objectId, long index, ReadOnlySpan<byte> into)
    {
        if (read.Length == into.Length + 8 && read.Prefix == Checksummed.ChunkHash(objectId, index, into)) return true;
        Log.Corrupt(_logger, "chunk");
        return false;
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
        return read is { } chunk && Verified(chunk, objectId, index, into.Span);
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
