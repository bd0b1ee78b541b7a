using EdgeCache.Engine;

namespace EdgeCache.Proxy.Internal;

/// <summary>Why a disk write did not happen (the metric's <c>edgecache.reason</c> tag).</summary>
internal enum DiskWriteDrop
{
    /// <summary>The queue was full and the object has another copy upstream (the shield stored it).</summary>
    QueueFull,

    /// <summary>No store was open (it could not be opened, or is being replaced after a stall).</summary>
    Unavailable,
}

/// <summary>
/// The write-behind queue to the disk tier, bounded in bytes. A write is admitted while the bytes
/// queued and being written fit <see cref="EdgeCache.Storage.DiskStoreOptions.WriteQueueBytes"/>
/// (an object larger than the whole budget is admitted alone). Past it, a write whose object has
/// another copy upstream is dropped and counted; the last copy's write waits for room, in order,
/// and <see cref="Enqueue"/>'s task completes only when it is admitted, so whoever awaits it (the
/// request that brought the object) slows to the disk's pace instead of losing the object.
/// Up to <c>WriteConcurrency</c> writes run at once.
/// </summary>
internal sealed class DiskWriteQueue
{
    private readonly object _lock = new();
    private readonly Queue<Write> _admitted = new();
    private readonly Queue<(Write Write, TaskCompletionSource Admitted)> _waiting = new();
    private readonly List<TaskCompletionSource> _flushes = [];
    private readonly Func<Write, Task> _write;
    private readonly long _budget;
    private readonly int _concurrency;
    private readonly long[] _dropped = new long[2];
    private long _bytes;
    private int _running;
    private long _delayed;

    /// <param name="budgetBytes">Bytes queued and being written at most.</param>
    /// <param name="concurrency">Writes running at once at most.</param>
    /// <param name="write">Writes one object (never throws: a store's failures are its own).</param>
    public DiskWriteQueue(long budgetBytes, int concurrency, Func<Write, Task> write)
    {
        _budget = budgetBytes;
        _concurrency = concurrency;
        _write = write;
    }

    /// <summary>One object to write; <paramref name="Written"/>, when given, completes once it is written or dropped.</summary>
    public readonly record struct Write(string PrimaryKey, CachedResponse Entry, TaskCompletionSource? Written = null)
    {
        /// <summary>What it holds of the queue's budget: its body and a share for its head.</summary>
        public long Bytes => Entry.Body.Length + 1024;
    }

    /// <summary>Bytes queued or being written now.</summary>
    public long QueuedBytes => Interlocked.Read(ref _bytes);

    /// <summary>Writes that waited for room before they were admitted, since start.</summary>
    public long Delayed => Interlocked.Read(ref _delayed);

    /// <summary>Writes not done, by reason, since start.</summary>
    public long Dropped(DiskWriteDrop reason) => Interlocked.Read(ref _dropped[(int)reason]);

    /// <summary>All writes not done, since start.</summary>
    public long DroppedTotal => Dropped(DiskWriteDrop.QueueFull) + Dropped(DiskWriteDrop.Unavailable);

    /// <summary>Counts a write that could not be queued at all.</summary>
    public void Drop(DiskWriteDrop reason) => Interlocked.Increment(ref _dropped[(int)reason]);

    /// <summary>
    /// Queues a write. Completes at once when admitted or dropped; for the last copy of an object
    /// (<paramref name="mayDrop"/> false) in a full queue, when room is made for it.
    /// </summary>
    public Task Enqueue(Write write, bool mayDrop)
    {
        lock (_lock)
        {
            if (_waiting.Count == 0 && Fits(write.Bytes))
            {
                AdmitLocked(write);
                return Task.CompletedTask;
            }

            if (mayDrop)
            {
                Interlocked.Increment(ref _dropped[(int)DiskWriteDrop.QueueFull]);
                write.Written?.TrySetResult();
                return Task.CompletedTask;
            }

            Interlocked.Increment(ref _delayed);
            var admitted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Enqueue((write, admitted));
            return admitted.Task;
        }
    }

    /// <summary>Completes when every write queued or waiting now, and any queued meanwhile, is done.</summary>
    public Task FlushAsync()
    {
        lock (_lock)
        {
            if (Idle) return Task.CompletedTask;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _flushes.Add(done);
            return done.Task;
        }
    }

    private bool Idle => _bytes == 0 && _waiting.Count == 0 && _admitted.Count == 0;

    private bool Fits(long bytes) => _bytes == 0 || _bytes + bytes <= _budget;

    private void AdmitLocked(Write write)
    {
        _bytes += write.Bytes;
        _admitted.Enqueue(write);
        if (_running < _concurrency)
        {
            _running++;
            _ = Task.Run(RunAsync);
        }
    }

    private async Task RunAsync()
    {
        while (true)
        {
            Write next;
            lock (_lock)
            {
                if (!_admitted.TryDequeue(out next))
                {
                    _running--;
                    return;
                }
            }

            try
            {
                await _write(next).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // a failed write is the store's to count and log; the queue must go on
            catch (Exception)
            {
            }
#pragma warning restore CA1031
            finally
            {
                Completed(next);
                next.Written?.TrySetResult();
            }
        }
    }

    private void Completed(Write write)
    {
        List<TaskCompletionSource>? admitted = null;
        List<TaskCompletionSource>? flushed = null;
        lock (_lock)
        {
            _bytes -= write.Bytes;
            while (_waiting.TryPeek(out var w) && Fits(w.Write.Bytes))
            {
                _waiting.Dequeue();
                AdmitLocked(w.Write);
                (admitted ??= []).Add(w.Admitted);
            }

            if (Idle && _flushes.Count > 0)
            {
                flushed = [.. _flushes];
                _flushes.Clear();
            }
        }

        if (admitted is not null) foreach (var a in admitted) a.TrySetResult();
        if (flushed is not null) foreach (var f in flushed) f.TrySetResult();
    }
}
