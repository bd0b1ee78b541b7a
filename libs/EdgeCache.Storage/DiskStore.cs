using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using EdgeCache.Engine;
using EdgeCache.Storage.Internal;
using FASTER.core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace EdgeCache.Storage;

/// <summary>
/// The disk tier on FASTER. A URL record lists a URL's variants; each variant is an object whose
/// metadata and body chunks are separate records, each with a checksum. The log is bounded by
/// truncating its head, and records read from disk are copied to the tail, so hot objects survive
/// truncation. The store checkpoints periodically and on dispose, and recovers on open; a store of
/// another format version, or one that cannot be recovered, is set aside (or wiped) and the node
/// starts empty. Every failure is contained here: callers see a miss or a dropped write.
/// </summary>
public sealed partial class DiskStore : IDiskTier
{
    public const int FormatVersion = 1;
    private const string FormatLine = "edgecache-disk-store";

    private readonly DiskStoreOptions _options;
    private readonly ILogger _logger;
    private readonly HeuristicOptions _heuristics;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim[] _urlLocks = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();
    private readonly CancellationTokenSource _stopping = new();
    private readonly FasterKV<StoreKey, SpanByte> _store;
    private readonly IDevice _device;
    private readonly StoreFunctions _functions = new();
    private readonly Task _checkpointLoop;
    private readonly object _budgetLock = new();
    private long _lastFailureLog = long.MinValue;
    private long _failures;
    private volatile bool _healthy = true;

    private DiskStore(DiskStoreOptions options, ILogger logger, HeuristicOptions heuristics, TimeProvider time, FasterKV<StoreKey, SpanByte> store, IDevice device, string directory)
    {
        _options = options;
        _logger = logger;
        _heuristics = heuristics;
        _time = time;
        _store = store;
        _device = device;
        StoreDirectory = directory;
        StartWorkers();
        _checkpointLoop = CheckpointLoopAsync(_stopping.Token);
    }

    public string StoreDirectory { get; }

    public bool Healthy => _healthy;

    public long MaxObjectBytes => _options.MaxObjectBytes;

    /// <summary>Bytes of log between the begin and tail addresses (what the budget bounds).</summary>
    public long LogBytes => _store.Log.TailAddress - _store.Log.BeginAddress;

    /// <summary>Failed store operations since start.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Bytes dropped from the head of the log to stay within the budget, since start.</summary>
    public long TruncatedBytes { get; private set; }

    /// <summary>How the store came up: recovered, new, or set aside/wiped and new.</summary>
    public string OpenedAs { get; private set; } = "new";

    /// <summary>How long opening (and recovering) took.</summary>
    public TimeSpan OpenDuration { get; private set; }

    /// <summary>Opens (or creates, or recovers) the store under <c>{Directory}/store</c>.</summary>
    public static DiskStore Open(DiskStoreOptions options, ILogger logger, HeuristicOptions heuristics, TimeProvider? time = null)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var root = Path.GetFullPath(options.Directory);
        var dir = Path.Combine(root, "store");
        string opened = "new";
        if (Directory.Exists(dir))
        {
            var format = ReadFormat(dir);
            if (format == FormatVersion)
            {
                opened = "recovered";
            }
            else
            {
                SetAside(dir, options, logger, format is null ? "it has no format marker" : $"it is format {format}, this node writes {FormatVersion}");
                opened = "set-aside";
            }
        }

        FasterKV<StoreKey, SpanByte>? store = null;
        IDevice? device = null;
        try
        {
            (store, device) = Create(dir, options, recover: opened == "recovered");
        }
        catch (Exception ex) when (opened == "recovered")
        {
            store?.Dispose();
            device?.Dispose();
            SetAside(dir, options, logger, "it could not be recovered: " + ex.Message);
            opened = "set-aside";
            (store, device) = Create(dir, options, recover: false);
        }

        var result = new DiskStore(options, logger, heuristics, time ?? TimeProvider.System, store, device, dir)
        {
            OpenedAs = opened,
            OpenDuration = System.Diagnostics.Stopwatch.GetElapsedTime(started),
        };
        Log.Opened(logger, dir, opened, result.LogBytes, result.OpenDuration.TotalMilliseconds);
        return result;
    }

    private static (FasterKV<StoreKey, SpanByte>, IDevice) Create(string dir, DiskStoreOptions options, bool recover)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "FORMAT"), $"{FormatLine} {FormatVersion}\n");
        var checkpoints = Path.Combine(dir, "checkpoints");
        var hasCheckpoint = recover && Directory.Exists(checkpoints) && Directory.EnumerateFileSystemEntries(checkpoints).Any();
        var device = Devices.CreateLogDevice(Path.Combine(dir, "hlog", "log"), preallocateFile: false, deleteOnClose: false, recoverDevice: hasCheckpoint);
        var settings = new FasterKVSettings<StoreKey, SpanByte>(null)
        {
            IndexSize = options.IndexBytes,
            LogDevice = device,
            PageSize = DiskStoreOptions.PageBytes,
            SegmentSize = SegmentBytes(options),
            MemorySize = options.LogMemoryBytes,
            CheckpointDir = checkpoints,
            RemoveOutdatedCheckpoints = true,
            ReadCopyOptions = new ReadCopyOptions(ReadCopyFrom.Device, ReadCopyTo.MainLog),
            EqualityComparer = new StoreKeyComparer(),
        };
        var store = new FasterKV<StoreKey, SpanByte>(settings);
        try
        {
            if (hasCheckpoint) store.Recover();
        }
        catch
        {
            store.Dispose();
            device.Dispose();
            throw;
        }

        return (store, device);
    }

    private static long SegmentBytes(DiskStoreOptions options)
    {
        // Truncation frees whole segments: keep them small next to the budget.
        var segment = 8L * 1024 * 1024;
        while (segment > DiskStoreOptions.PageBytes * 2 && segment > options.BudgetBytes / 16) segment /= 2;
        return segment;
    }

    private static int? ReadFormat(string dir)
    {
        var file = Path.Combine(dir, "FORMAT");
        if (!File.Exists(file)) return null;
        var parts = File.ReadAllText(file).Trim().Split(' ');
        return parts.Length == 2 && parts[0] == FormatLine && int.TryParse(parts[1], out var v) ? v : null;
    }

    private static void SetAside(string dir, DiskStoreOptions options, ILogger logger, string reason)
    {
        if (options.OnIncompatibleStore == IncompatibleStoreAction.Wipe)
        {
            Directory.Delete(dir, recursive: true);
            Log.StoreWiped(logger, dir, reason);
            return;
        }

        var aside = dir + ".set-aside-" + DateTime.UtcNow.ToString("yyyyMMddTHHmmssfff", System.Globalization.CultureInfo.InvariantCulture);
        Directory.Move(dir, aside);
        Log.StoreSetAside(logger, dir, aside, reason);
    }

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

    public async ValueTask PutAsync(string primaryKey, CachedResponse response, CancellationToken cancellationToken)
    {
        if (!response.Body.IsCompleted || response.Body.Length > _options.MaxObjectBytes) return;
        try
        {
            var objectId = NewObjectId();
            var chunkBytes = _options.ChunkBytes;
            var sequence = response.Body.AsSequence();
            var buffer = ArrayPool<byte>.Shared.Rent(chunkBytes + 8);
            try
            {
                long index = 0;
                for (var offset = 0L; offset < sequence.Length; offset += chunkBytes, index++)
                {
                    var n = (int)Math.Min(chunkBytes, sequence.Length - offset);
                    var slice = sequence.Slice(offset, n);
                    slice.CopyTo(buffer.AsSpan(8));
                    BinaryPrimitives.WriteUInt64LittleEndian(buffer, Checksummed.ChunkHash(objectId, index, buffer.AsSpan(8, n)));
                    await UpsertAsync(StoreKey.ForChunk(objectId, index), buffer.AsSpan(0, n + 8).ToArray()).ConfigureAwait(false);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

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

    /// <inheritdoc/>
    public Func<byte[]>? CheckpointState { get; set; }

    /// <inheritdoc/>
    public async ValueTask<byte[]?> ReadStateAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var bytes = await ReadAsync(StoreKey.State, cancellationToken).ConfigureAwait(false);
            return bytes is not null && Checksummed.TryOpen(bytes, out var payload) ? payload : null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ReportFailure("read", ex);
            return null;
        }
    }

    /// <summary>Takes a checkpoint now (also done periodically and on dispose).</summary>
    public async Task<bool> CheckpointAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            if (Stalled) throw new IOException("The disk store is stalled.");
            if (CheckpointState is { } state)
            {
                using var ms = new MemoryStream();
                ms.Write(state());
                await UpsertAsync(StoreKey.State, Checksummed.Seal(ms)).ConfigureAwait(false);
            }

            var (ok, _) = await WithinTimeout(_store.TakeFullCheckpointAsync(CheckpointType.FoldOver, cancellationToken).AsTask()).ConfigureAwait(false);
            return ok;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ReportFailure("checkpoint", ex);
            return false;
        }
    }

    private async Task CheckpointLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.CheckpointInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                await CheckpointAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
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

    private void EnforceBudget()
    {
        var log = _store.Log;
        if (log.TailAddress - log.BeginAddress <= _options.BudgetBytes) return;
        lock (_budgetLock)
        {
            var begin = log.BeginAddress;
            var until = Math.Min(log.TailAddress - _options.BudgetBytes, log.HeadAddress);
            if (until <= begin) return;
            log.ShiftBeginAddress(until, snapToPageStart: true, truncateLog: true);
            TruncatedBytes += log.BeginAddress - begin;
        }
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

    private T? Succeeded<T>(T? value)
    {
        _healthy = true;
        return value;
    }

    private void ReportFailure(string operation, Exception ex)
    {
        Interlocked.Increment(ref _failures);
        _healthy = false;
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastFailureLog);
        if (last == long.MinValue || _time.GetElapsedTime(last, now) >= _options.FailureLogInterval)
        {
            if (Interlocked.CompareExchange(ref _lastFailureLog, now, last) == last)
            {
                Log.StoreFailing(_logger, operation, ex.GetType().Name, ex.Message, _options.FailureLogInterval);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested) return;
        _stopping.Cancel();
        await _checkpointLoop.ConfigureAwait(false);
        if (await CheckpointAsync(CancellationToken.None).ConfigureAwait(false))
        {
            Log.CheckpointedOnStop(_logger, StoreDirectory);
        }

        if (Stalled)
        {
            // A worker is stuck inside FASTER on the failed disk: disposing the store under it is
            // unsafe, and joining it would never return. Stop taking work and leave the rest to the process's end.
            _queue.CompleteAdding();
            Log.StoppedStalled(_logger, StoreDirectory);
            return;
        }

        StopWorkers();
        _store.Dispose();
        _device.Dispose();
        _stopping.Dispose();
        foreach (var l in _urlLocks) l.Dispose();
    }
}
