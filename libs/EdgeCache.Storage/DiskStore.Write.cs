using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using EdgeCache.Engine;
using EdgeCache.Storage.Internal;

namespace EdgeCache.Storage;

/// <summary>Writes and removals: chunks, then metadata, then the URL record, under the URL's lock.</summary>
public sealed partial class DiskStore
{
    /// <summary>A record's bytes in the log besides its value: header, key and length, rounded up.</summary>
    private const int ChunkRecordOverhead = 64;

    /// <summary>Writes a complete response. A partial (206, <see cref="CachedResponse.IsPartial"/>) is not
    /// written: partials are kept in memory only, so one never replaces a complete copy held here.</summary>
    public async ValueTask PutAsync(string primaryKey, CachedResponse response, CancellationToken cancellationToken)
    {
        if (!response.Body.IsCompleted || response.Body.Length > _options.MaxObjectBytes || response.IsPartial) return;
        try
        {
            var objectId = NewObjectId();
            var chunkBytes = _options.ChunkBytes;
            var sequence = response.Body.AsSequence();
            var buffer = ArrayPool<byte>.Shared.Rent(chunkBytes + 8);
            long index = 0;
            for (var offset = 0L; offset < sequence.Length; offset += chunkBytes, index++)
            {
                var n = (int)Math.Min(chunkBytes, sequence.Length - offset);
                var slice = sequence.Slice(offset, n);
                slice.CopyTo(buffer.AsSpan(8));
                BinaryPrimitives.WriteUInt64LittleEndian(buffer, Checksummed.ChunkHash(objectId, index, buffer.AsSpan(8, n)));

                // Room first: the log never outgrows its budget, not even by one object.
                EnforceBudget(n + 8 + ChunkRecordOverhead);

                // The upsert has copied the record into the log when its task completes: the buffer
                // is free for the next chunk, with no copy of its own.
                await UpsertAsync(StoreKey.ForChunk(objectId, index), buffer.AsMemory(0, n + 8)).ConfigureAwait(false);
            }

            // Returned only when every upsert has finished. One that failed or timed out may still be
            // queued or running on a worker, reading this buffer: then it is left to the GC, so no
            // other renter can change the bytes under it.
            ArrayPool<byte>.Shared.Return(buffer);

            var meta = new MetaRecord(response.StatusCode, response.Headers, response.RequestTime, response.ResponseTime, response.CorrectedInitialAge, response.StoredAt, response.Body.Length, chunkBytes, response.VaryValues, response.StoredSeq);
            await UpsertAsync(StoreKey.ForMeta(objectId), meta.Encode()).ConfigureAwait(false);

            // The URL record last: a crash before it leaves only unreachable records.
            var gate = _urlLocks[(uint)primaryKey.GetHashCode() % (uint)_urlLocks.Length];
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var url = await ReadUrlAsync(primaryKey, cancellationToken).ConfigureAwait(false) ?? new UrlRecord(primaryKey, []);
                var replaced = url.Variants.Where(v => v.VaryValues.AsSpan().SequenceEqual(response.VaryValues) && v.VaryNames.AsSpan().SequenceEqual(response.VaryNames)).ToList();
                url.Variants.RemoveAll(replaced.Contains);
                url.Variants.Add(new VariantRef(objectId, response.VaryNames, response.VaryValues));
                await UpsertAsync(StoreKey.ForUrl(primaryKey), url.Encode()).ConfigureAwait(false);
                foreach (var old in replaced) Delete(StoreKey.ForMeta(old.ObjectId));
            }
            finally
            {
                gate.Release();
            }

            EnforceBudget();
            Succeeded<object>(null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ReportFailure("write", ex);
        }
    }

    public async ValueTask RemoveAsync(string primaryKey, CancellationToken cancellationToken)
    {
        try
        {
            var gate = _urlLocks[(uint)primaryKey.GetHashCode() % (uint)_urlLocks.Length];
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var url = await ReadUrlAsync(primaryKey, cancellationToken).ConfigureAwait(false);
                if (url is null) return;
                // Awaited: once a remove returns, no lookup may find the object.
                foreach (var v in url.Variants) await DeleteAsync(StoreKey.ForMeta(v.ObjectId)).ConfigureAwait(false);
                await DeleteAsync(StoreKey.ForUrl(primaryKey)).ConfigureAwait(false);
            }
            finally
            {
                gate.Release();
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ReportFailure("delete", ex);
        }
    }

    private async ValueTask RemoveVariantAsync(string primaryKey, ulong objectId)
    {
        var gate = _urlLocks[(uint)primaryKey.GetHashCode() % (uint)_urlLocks.Length];
        await gate.WaitAsync().ConfigureAwait(false);
        try
        {
            await DeleteAsync(StoreKey.ForMeta(objectId)).ConfigureAwait(false);
            var url = await ReadUrlAsync(primaryKey, CancellationToken.None).ConfigureAwait(false);
            if (url is null) return;
            url.Variants.RemoveAll(v => v.ObjectId == objectId);
            if (url.Variants.Count == 0) await DeleteAsync(StoreKey.ForUrl(primaryKey)).ConfigureAwait(false);
            else await UpsertAsync(StoreKey.ForUrl(primaryKey), url.Encode()).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    private async ValueTask<UrlRecord?> ReadUrlAsync(string primaryKey, CancellationToken cancellationToken)
    {
        var bytes = await ReadAsync(StoreKey.ForUrl(primaryKey), cancellationToken).ConfigureAwait(false);
        return bytes is null ? null : UrlRecord.Decode(bytes, primaryKey);
    }

    private static ulong NewObjectId()
    {
        Span<byte> b = stackalloc byte[8];
        ulong id;
        do
        {
            RandomNumberGenerator.Fill(b);
            id = BinaryPrimitives.ReadUInt64LittleEndian(b);
        }
        while (id == 0);
        return id;
    }
}
