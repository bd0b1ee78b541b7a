using System.Collections.Concurrent;
using EdgeCache.Storage.Internal;
using FASTER.core;

namespace EdgeCache.Storage;

/// <summary>
/// Writes, deletes and the store's own reads run on a few dedicated threads, each owning one session:
/// a session is single-threaded, and an operation that waits (a log page that must flush before an
/// append) blocks its own thread, never the thread pool that serves requests; callers await a task
/// that the worker completes. Lookups for requests run on the caller's thread with a pooled session
/// (<see cref="WithReadSessionAsync"/>), reads from the device awaited, not waited for.
/// </summary>
public sealed partial class DiskStore
{
    private const int WorkerCount = 2;

    private readonly BlockingCollection<WorkItem> _queue = new(new ConcurrentQueue<WorkItem>(), boundedCapacity: 4096);
    private Thread[] _workers = [];

    private void StartWorkers()
    {
        _workers = new Thread[WorkerCount];
        for (var i = 0; i < WorkerCount; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = "edgecache-disk-" + i };
            _workers[i].Start();
        }
    }

    private void StopWorkers()
    {
        _queue.CompleteAdding();
        foreach (var t in _workers) t.Join();
        _queue.Dispose();
    }

    // This worker's session whose reads from the device copy the record to the tail (the store's
    // own sessions do not copy; see Read).
    [ThreadStatic]
    private static ClientSession<StoreKey, SpanByte, SpanByte, ReadOutput, Empty, StoreFunctions>? t_copier;

    private void WorkerLoop()
    {
        using var session = _store.For(_functions).NewSession<StoreFunctions>();
        using var copier = _store.For(_functions).NewSession<StoreFunctions>(readCopyOptions: new ReadCopyOptions(ReadCopyFrom.Device, ReadCopyTo.MainLog));
        t_copier = copier;
        foreach (var item in _queue.GetConsumingEnumerable())
        {
            item.Run(session);
        }
    }

    // Operations that outlived OperationTimeout and have not finished. A write whose page flush
    // failed (I/O error, a log directory gone) leaves FASTER waiting forever; while any such
    // operation is outstanding the store is stalled and every call fails at once.
    private int _stalledOperations;

    /// <summary>True while an operation has outlived OperationTimeout; the node then reopens the store.</summary>
    public bool Stalled => Volatile.Read(ref _stalledOperations) > 0;

    private Task<T> Enqueue<T>(Func<ClientSession<StoreKey, SpanByte, SpanByte, ReadOutput, Empty, StoreFunctions>, T> operation)
    {
        if (Stalled) throw new IOException($"The disk store is stalled: an operation has not finished in {_options.OperationTimeout}.");
        var item = new WorkItem<T>(operation);
        if (!_queue.TryAdd(item)) throw new IOException("The disk store is overloaded or stopping.");
        return WithinTimeout(item.Task);
    }

    /// <summary>Waits at most OperationTimeout; past it the store is stalled until the operation finishes.</summary>
    private async Task<T> WithinTimeout<T>(Task<T> operation)
    {
        try
        {
            return await operation.WaitAsync(_options.OperationTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Interlocked.Increment(ref _stalledOperations);
            _ = operation.ContinueWith(
                static (_, state) => Interlocked.Decrement(ref ((DiskStore)state!)._stalledOperations),
                this,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            throw new IOException($"A disk store operation has not finished in {_options.OperationTimeout}; the store is stalled until it does.");
        }
    }

    /// <summary>Idle sessions the pool keeps for lookups on the caller's thread; more are made (and then
    /// disposed) when more lookups run at once.</summary>
    private const int PooledReadSessions = 64;

    // Lock-free: a lookup usually ends on another thread than it began, and ConcurrentBag (per-thread
    // lists, stealing under a lock) and SemaphoreSlim (a lock per call) were measured contending there.
    private readonly ConcurrentQueue<ClientSession<StoreKey, SpanByte, SpanByte, ReadOutput, Empty, StoreFunctions>> _readSessions = new();
    private int _pooledReadSessions;
    private int _readsInFlight;

    /// <summary>
    /// Runs a lookup on the caller's thread with a session from a pool, not on a worker: a record in the
    /// log's memory is read at once, with no thread hop (measured: the two hops of a worker trip, and the
    /// workers waking, were most of an L2 hit's cost), and one on the device is awaited
    /// (<see cref="ReadInlineAsync"/>), never blocking the thread pool. A session is used by one lookup at a
    /// time, which FASTER requires; it may continue on another thread after an await, which FASTER allows
    /// (each call on a session enters and leaves the epoch itself). A session whose read never finished
    /// is dropped, not reused.
    /// </summary>
    private async ValueTask<T> WithReadSessionAsync<T>(Func<ClientSession<StoreKey, SpanByte, SpanByte, ReadOutput, Empty, StoreFunctions>, ValueTask<T>> lookup)
    {
        if (Stalled) throw new IOException($"The disk store is stalled: an operation has not finished in {_options.OperationTimeout}.");
        Interlocked.Increment(ref _readsInFlight);
        try
        {
            if (_stopping.IsCancellationRequested) throw new IOException("The disk store is stopping.");
            ClientSession<StoreKey, SpanByte, SpanByte, ReadOutput, Empty, StoreFunctions> session;
            if (_readSessions.TryDequeue(out var pooled))
            {
                Interlocked.Decrement(ref _pooledReadSessions);
                session = pooled;
            }
            else
            {
                session = _store.For(_functions).NewSession<StoreFunctions>();
            }

            var result = await lookup(session).ConfigureAwait(false);
            if (Interlocked.Increment(ref _pooledReadSessions) <= PooledReadSessions)
            {
                _readSessions.Enqueue(session);
            }
            else
            {
                Interlocked.Decrement(ref _pooledReadSessions);
                session.Dispose();
            }

            return result;
        }
        finally
        {
            Interlocked.Decrement(ref _readsInFlight);
        }
    }

    /// <summary>
    /// Reads a record on a pooled session (see <see cref="WithReadSessionAsync"/>): at once when it is in
    /// memory, else awaiting the device, within OperationTimeout (past it the store is stalled, and the
    /// exception drops the session). A record read from the oldest quarter of the log is then copied to
    /// the tail by a worker, in the background, as <see cref="Read"/> does.
    /// </summary>
    private async ValueTask<(bool Found, ReadOutput Output)> ReadInlineAsync(ClientSession<StoreKey, SpanByte, SpanByte, ReadOutput, Empty, StoreFunctions> session, StoreKey key, ReadOutput output)
    {
        var status = session.Read(ref key, ref output);
        if (!status.IsPending) return (status.Found, output);

        var (found, completed, address) = await WithinTimeout(CompleteAsync(session, output)).ConfigureAwait(false);
        if (found && address < CopyThreshold) CopyToTail(key);
        return (found, completed);
    }

    private static async Task<(bool Found, ReadOutput Output, long Address)> CompleteAsync(ClientSession<StoreKey, SpanByte, SpanByte, ReadOutput, Empty, StoreFunctions> session, ReadOutput output)
    {
        var found = false;
        long address = 0;
        using var completed = await session.CompletePendingWithOutputsAsync().ConfigureAwait(false);
        while (completed.Next())
        {
            found = completed.Current.Status.Found;
            output = completed.Current.Output;
            address = completed.Current.RecordMetadata.Address;
        }

        return (found, output, address);
    }

    /// <summary>Copies a record read near the log's head to its tail, on a worker (see <see cref="Read"/>); best effort.</summary>
    private void CopyToTail(StoreKey key)
    {
        try
        {
            _ = Enqueue(s =>
            {
                if (t_copier is not { } copier) return false;
                CopyWith(copier, key);
                return true;
            });
        }
        catch (IOException)
        {
            // Overloaded or stopping: the record stays where it is.
        }
    }

    /// <summary>Waits (at most OperationTimeout) for the lookups on pooled sessions to end, then disposes the sessions.</summary>
    private void DisposeReadSessions()
    {
        var deadline = _time.GetTimestamp();
        while (Volatile.Read(ref _readsInFlight) > 0 && _time.GetElapsedTime(deadline) < _options.OperationTimeout) Thread.Sleep(1);
        while (_readSessions.TryDequeue(out var session)) session.Dispose();
    }

    private async ValueTask<byte[]?> ReadAsync(StoreKey key, CancellationToken cancellationToken) =>
        await Enqueue(s =>
        {
            var output = default(ReadOutput);
            return Read(s, key, ref output) ? output.Bytes : null;
        }).WaitAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>Reads a record's value straight into <paramref name="into"/> (see <see cref="ReadOutput"/>);
    /// null when there is none. The worker writes into it: until the task completes, nothing else may use it.</summary>
    private async ValueTask<ReadOutput?> ReadIntoAsync(StoreKey key, Memory<byte> into, CancellationToken cancellationToken) =>
        await Enqueue(s =>
        {
            var output = new ReadOutput { Into = into, HasInto = true };
            return Read(s, key, ref output) ? output : (ReadOutput?)null;
        }).WaitAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Reads a record. One read from the device is copied to the log's tail only when it lies in the
    /// oldest quarter of the log's budget, the part the next truncations drop: a working set that fits
    /// the budget is then never rewritten by being read (each copy would take log space, and a log
    /// grown by copies truncates objects that still fit), while a hot object near the head moves to
    /// the tail before it is dropped. FASTER makes that copy itself (a second read that copies), so a
    /// newer record written meanwhile is never overwritten by an older one.
    /// </summary>
    private bool Read(ClientSession<StoreKey, SpanByte, SpanByte, ReadOutput, Empty, StoreFunctions> session, StoreKey key, ref ReadOutput output)
    {
        var status = session.Read(ref key, ref output);
        if (!status.IsPending) return status.Found;

        var address = Complete(session, ref status, ref output);
        if (status.Found && address < CopyThreshold && t_copier is { } copier) CopyWith(copier, key);
        return status.Found;
    }

    /// <summary>Copies a record near the log's head to its tail: a second read on a worker's copying
    /// session, which makes FASTER copy it (a newer record written meanwhile is never overwritten).</summary>
    private void CopyWith(ClientSession<StoreKey, SpanByte, SpanByte, ReadOutput, Empty, StoreFunctions> copier, StoreKey key)
    {
        EnforceBudget(_options.ChunkBytes + 8 + ChunkRecordOverhead);

        // Into nothing: the copy is FASTER's; this read only makes it.
        var output = new ReadOutput { HasInto = true, Into = Memory<byte>.Empty };
        var again = copier.Read(ref key, ref output);
        if (again.IsPending) Complete(copier, ref again, ref output);
        Interlocked.Increment(ref _readCopies);
    }

    /// <summary>Waits for a pending read; returns the address it found the record at.</summary>
    private static long Complete(ClientSession<StoreKey, SpanByte, SpanByte, ReadOutput, Empty, StoreFunctions> session, ref Status status, ref ReadOutput output)
    {
        long address = 0;
        session.CompletePendingWithOutputs(out var completed, wait: true);
        using (completed)
        {
            while (completed.Next())
            {
                status = completed.Current.Status;
                output = completed.Current.Output;
                address = completed.Current.RecordMetadata.Address;
            }
        }

        return address;
    }

    /// <summary>Records below this address are in the oldest quarter of the log's budget: a read copies them to the tail.</summary>
    private long CopyThreshold => _store.Log.TailAddress - (LogBudgetBytes * 3 / 4);

    private long _readCopies;

    /// <summary>Records copied to the log's tail because they were read near its head, since start.</summary>
    public long ReadCopies => Interlocked.Read(ref _readCopies);

    /// <summary>Writes a record; FASTER has copied <paramref name="value"/> into the log when the
    /// worker completes the task, but until then the worker may read it.</summary>
    private Task<bool> UpsertAsync(StoreKey key, ReadOnlyMemory<byte> value) => Enqueue(s => UpsertOn(s, key, value));

    private static unsafe bool UpsertOn(ClientSession<StoreKey, SpanByte, SpanByte, ReadOutput, Empty, StoreFunctions> session, StoreKey key, ReadOnlyMemory<byte> value)
    {
        fixed (byte* p = value.Span)
        {
            var sb = SpanByte.FromFixedSpan(new ReadOnlySpan<byte>(p, value.Length));
            var status = session.Upsert(ref key, ref sb);
            if (status.IsPending) session.CompletePending(wait: true);
        }

        return true;
    }

    private void Delete(StoreKey key) => _ = DeleteAsync(key);

    private Task<bool> DeleteAsync(StoreKey key) => Enqueue(s =>
    {
        var status = s.Delete(ref key);
        if (status.IsPending) s.CompletePending(wait: true);
        return true;
    });

    private abstract class WorkItem
    {
        public abstract void Run(ClientSession<StoreKey, SpanByte, SpanByte, ReadOutput, Empty, StoreFunctions> session);
    }

    private sealed class WorkItem<T>(Func<ClientSession<StoreKey, SpanByte, SpanByte, ReadOutput, Empty, StoreFunctions>, T> operation) : WorkItem
    {
        private readonly TaskCompletionSource<T> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<T> Task => _done.Task;

        public override void Run(ClientSession<StoreKey, SpanByte, SpanByte, ReadOutput, Empty, StoreFunctions> session)
        {
            try
            {
                _done.SetResult(operation(session));
            }
            catch (Exception ex)
            {
                _done.SetException(ex);
            }
        }
    }
}
