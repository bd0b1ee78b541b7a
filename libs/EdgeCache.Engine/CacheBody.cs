using System.Buffers;
using System.IO.Pipelines;

namespace EdgeCache.Engine;

/// <summary>
/// An append-only, segmented response body. One writer appends while any number of readers
/// read along (read-while-write); once <see cref="Complete"/> is called the body is immutable and
/// hits share its segments without copying. A body that ends with <see cref="Fail"/> is never
/// stored: readers see the failure and the transfer is cut short, never padded or replaced.
/// </summary>
public sealed class CacheBody
{
    private const int DefaultSegmentSize = 64 * 1024;

    /// <summary>The largest expected length the constructor holds in one array (and so one segment).</summary>
    public const int SingleSegmentLimit = 16 * 1024 * 1024;

    private readonly List<byte[]> _segments = [];
    private readonly object _gate = new();
    private readonly int _segmentSize;
    private readonly long _base;
    private long _length;
    private int _lastSegmentFill;
    private TaskCompletionSource _changed = NewSignal();
    private Exception? _failure;
    private bool _transient;
    private long _window;
    private long _readPosition;

    /// <summary>A body that holds bytes from <paramref name="baseOffset"/> on (a range read from disk):
    /// offsets stay those of the whole representation, and reading before the base fails.</summary>
    public CacheBody(long? expectedLength, int segmentSize, long baseOffset)
        : this(expectedLength is { } e ? e - baseOffset : null, segmentSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(baseOffset);
        _base = baseOffset;
        _length = baseOffset;
        _readPosition = baseOffset;
    }

    /// <summary>The first byte this body holds (0 but for range reads from disk).</summary>
    public long BaseOffset => _base;

    public CacheBody(long? expectedLength = null, int segmentSize = DefaultSegmentSize)
    {
        // A body whose length is known and small enough is held in one array.
        _segmentSize = expectedLength is > 0 and <= SingleSegmentLimit ? (int)expectedLength.Value : segmentSize;
    }

    /// <summary>A complete body over existing bytes, which it holds without copying (a body read whole
    /// from disk, tests, small synthetic bodies): the caller must not change them afterwards, and must
    /// not pass a pooled array, since hits share the body for as long as it is cached.</summary>
    public static CacheBody FromBytes(byte[] bytes)
    {
        // One segment of exactly this length, even above the 16 MiB single-array limit of the
        // constructor: Slice indexes segments by _segmentSize, so it must equal the array's length.
        var body = new CacheBody(bytes.Length, bytes.Length > 0 ? bytes.Length : DefaultSegmentSize);
        if (bytes.Length > 0)
        {
            body._segments.Add(bytes);
            body._length = bytes.Length;
            body._lastSegmentFill = bytes.Length;
        }

        body.Complete();
        return body;
    }

    /// <summary>
    /// A complete body over the first <paramref name="length"/> bytes of an array rented from
    /// <see cref="ArrayPool{T}.Shared"/> (a disk hit that no tier keeps): it has one reader, and goes back to
    /// the pool with <see cref="ReturnRented"/> once that reader is done. It must never be stored.
    /// </summary>
    public static CacheBody FromRented(byte[] array, int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, array.Length);
        var body = new CacheBody(array.Length, array.Length > 0 ? array.Length : DefaultSegmentSize);
        body._segments.Add(array);
        body._length = length;
        body._lastSegmentFill = length;
        body._rented = array;
        body.IsRented = true;

        // Not Complete(): it would trim the array to the body's length, a copy.
        body._completed = true;
        return body;
    }

    private byte[]? _rented;

    /// <summary>The body is in a rented array (see <see cref="FromRented"/>): one reader, never stored.</summary>
    public bool IsRented { get; private set; }

    /// <summary>Gives a rented body's array back to the pool (once; later calls do nothing). The body
    /// then holds nothing (its length is 0) and is failed: reading it throws.</summary>
    public void ReturnRented()
    {
        // Read first: a stored body is shared by every hit, and an interlocked write to it would move its
        // cache line between cores on each one.
        if (!IsRented || Interlocked.Exchange(ref _rented, null) is not { } array) return;
        lock (_gate)
        {
            _segments.Clear();
            _lastSegmentFill = 0;
            Volatile.Write(ref _length, 0);
            _failure ??= new ObjectDisposedException(nameof(CacheBody), "The rented body was returned to the pool.");
        }

        ArrayPool<byte>.Shared.Return(array);
    }

    public long Length => Volatile.Read(ref _length);

    private volatile bool _completed;

    public bool IsCompleted => _completed;

    public bool IsFailed => _failure is not null;

    public void Append(ReadOnlySpan<byte> data)
    {
        lock (_gate)
        {
            if (IsCompleted || _failure is not null)
            {
                throw new InvalidOperationException("The body is already complete.");
            }

            while (!data.IsEmpty)
            {
                if (_segments.Count == 0 || _lastSegmentFill == _segments[^1].Length)
                {
                    _segments.Add(GC.AllocateUninitializedArray<byte>(_segmentSize));
                    _lastSegmentFill = 0;
                }

                var segment = _segments[^1];
                var n = Math.Min(segment.Length - _lastSegmentFill, data.Length);
                data[..n].CopyTo(segment.AsSpan(_lastSegmentFill));
                _lastSegmentFill += n;
                data = data[n..];
                Volatile.Write(ref _length, _length + n);
            }

            Signal();
        }
    }

    /// <summary>
    /// Appends, then waits while a transient body is more than its window ahead of its reader,
    /// so a response that is not stored costs a bounded amount of memory however slow the client.
    /// </summary>
    public async ValueTask AppendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        Append(data.Span);
        if (_transient)
        {
            // Bytes before where the reader starts are never read: drop them as they arrive.
            lock (_gate) ReleasePassed();
        }

        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (!_transient || _failure is not null || _length - _readPosition <= _window) return;
                wait = _changed.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Marks a body that will not be stored and has one reader: the writer is held back to
    /// <paramref name="window"/> bytes ahead of the reader, and segments the reader has passed are released.
    /// </summary>
    public void MakeTransient(long window)
    {
        lock (_gate)
        {
            _transient = true;
            _window = window;
            Signal();
        }
    }

    /// <summary>Marks the body complete; a second call, or one after <see cref="Fail"/>, changes nothing.</summary>
    public void Complete()
    {
        TaskCompletionSource<bool>? done;
        lock (_gate)
        {
            if (_completed || _failure is not null) return;
            if (_segments.Count > 0 && _lastSegmentFill < _segments[^1].Length)
            {
                // Trim the last segment so a stored body holds no slack.
                Array.Resize(ref System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_segments)[^1], _lastSegmentFill);
            }

            _completed = true;
            Signal(final: true);
            done = TakeDone();
        }

        done?.TrySetResult(_failure is null);
    }

    /// <summary>Marks the body failed, unless it is already complete: every byte it announced arrived, and
    /// what its readers and its store already have stays true.</summary>
    public void Fail(Exception error)
    {
        TaskCompletionSource<bool>? done;
        lock (_gate)
        {
            if (_completed) return;
            _failure ??= error;
            Signal(final: true);
            done = TakeDone();
        }

        done?.TrySetResult(false);
    }

    /// <summary>
    /// True once the body is complete, false once it failed, like <see cref="WaitForCompletionAsync"/>;
    /// but its continuations run on the thread that ends the body (inline, after the body's lock is
    /// released), not as another thread-pool work item. For the one step that stores a fetched body
    /// (each miss saved a hop for it): an awaiter here must be cheap and must not block, since it delays
    /// whoever ends the body (for a fetch, the end of its upstream exchange).
    /// </summary>
    public Task<bool> Completion
    {
        get
        {
            lock (_gate)
            {
                if (_failure is not null) return FailedTask;
                if (IsCompleted) return CompletedTask;
                return (_done ??= new TaskCompletionSource<bool>()).Task;
            }
        }
    }

    private static readonly Task<bool> CompletedTask = Task.FromResult(true);
    private static readonly Task<bool> FailedTask = Task.FromResult(false);

    private TaskCompletionSource<bool>? _done;

    private TaskCompletionSource<bool>? TakeDone()
    {
        var done = _done;
        _done = null;
        return done;
    }

    /// <summary>
    /// Writes bytes [offset, offset+count) to <paramref name="writer"/> as they arrive; a negative
    /// count means "to the end". Throws when the writer failed before the range was complete, so the
    /// caller can cut the transfer instead of sending a short or padded body. <paramref name="beforeEnd"/>
    /// (optional) is awaited before the bytes that end the range are written, and its failure ignored:
    /// a miss holds its client's last bytes until its copy is stored.
    /// </summary>
    public async Task CopyToAsync(PipeWriter writer, long offset, long count, CancellationToken cancellationToken, Task? beforeEnd = null)
    {
        var end = count < 0 ? long.MaxValue : offset + count;

        if (offset < _base) throw new IOException("This body holds only the bytes from " + _base + " on.");

        // The only reader of a transient body starts here: the writer may run a window past it.
        if (_transient) ReaderAdvanced(offset);
        while (offset < end)
        {
            ReadOnlyMemory<byte> chunk;
            Task wait;
            lock (_gate)
            {
                if (offset < _length)
                {
                    chunk = Slice(offset, end);
                    wait = Task.CompletedTask;
                }
                else if (_failure is not null)
                {
                    throw new IOException("The upstream response body ended early.", _failure);
                }
                else if (IsCompleted)
                {
                    if (count < 0) return;
                    throw new IOException("The body is shorter than requested.");
                }
                else
                {
                    chunk = default;
                    wait = _changed.Task;
                }
            }

            if (chunk.IsEmpty)
            {
                await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            // (With no length known the client sees the end only when the response ends, after the
            // caller is done: nothing to hold here.)
            if (beforeEnd is { IsCompleted: false } && offset + chunk.Length == end)
            {
                await AwaitQuietlyAsync(beforeEnd, cancellationToken).ConfigureAwait(false);
            }

            var flush = await writer.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
            if (flush.IsCanceled || flush.IsCompleted) return;
            offset += chunk.Length;
            if (_transient) ReaderAdvanced(offset);
        }
    }

    /// <summary>Awaits <paramref name="task"/> for ordering only: its failure is someone else's to report.</summary>
    public static async Task AwaitQuietlyAsync(Task task, CancellationToken cancellationToken)
    {
        try
        {
            await task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>The whole body when it is complete and held in one array (the common hit case).</summary>
    public bool TryGetSingleSegment(out ReadOnlyMemory<byte> memory)
    {
        if (IsCompleted && _segments.Count <= 1 && _base == 0)
        {
            memory = _segments.Count == 0 ? ReadOnlyMemory<byte>.Empty : _segments[0].AsMemory(0, _lastSegmentFill);
            return true;
        }

        memory = default;
        return false;
    }

    /// <summary>Waits until the body is complete (true) or failed (false).</summary>
    public async Task<bool> WaitForCompletionAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (_failure is not null) return false;
                if (IsCompleted) return true;
                wait = _changed.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The bytes of a complete body as one sequence over the stored segments (no copy).</summary>
    public ReadOnlySequence<byte> AsSequence()
    {
        if (!IsCompleted || _base != 0) throw new InvalidOperationException("The body is not complete.");
        if (_segments.Count == 0) return ReadOnlySequence<byte>.Empty;
        if (_segments.Count == 1) return new ReadOnlySequence<byte>(_segments[0], 0, _lastSegmentFill);
        Segment? first = null, last = null;
        foreach (var s in _segments)
        {
            var seg = new Segment(s, last?.RunningIndex + last?.Memory.Length ?? 0);
            if (first is null) first = seg; else last!.SetNext(seg);
            last = seg;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    public byte[] ToArrayForTests()
    {
        var seq = AsSequence();
        return seq.ToArray();
    }

    private ReadOnlyMemory<byte> Slice(long offset, long end)
    {
        // Segments are all _segmentSize long except possibly the last (after Complete).
        var index = (int)((offset - _base) / _segmentSize);
        var within = (int)((offset - _base) % _segmentSize);
        var segment = _segments[index];
        var available = index == _segments.Count - 1 && (!IsCompleted || IsRented) ? _lastSegmentFill : segment.Length;
        var n = (int)Math.Min(available - within, end - offset);
        return new ReadOnlyMemory<byte>(segment, within, n);
    }

    private void ReaderAdvanced(long offset)
    {
        lock (_gate)
        {
            _readPosition = offset;
            ReleasePassed();
            Signal();
        }
    }

    /// <summary>Releases the segments wholly before the only reader's position (call under the gate).</summary>
    private void ReleasePassed()
    {
        var passed = (int)Math.Min((_readPosition - _base) / _segmentSize, _segments.Count - 1);
        for (var i = 0; i < passed; i++) _segments[i] = [];
    }

    /// <summary>Wakes the readers waiting for a change. The <paramref name="final"/> one (complete or
    /// failed) leaves a completed signal in place instead of a new one: a stored body (kept for as long as
    /// it is cached) then holds no signal of its own, which every miss's object carried into gen2.</summary>
    private void Signal(bool final = false)
    {
        var old = _changed;
        _changed = final ? Ended : NewSignal();
        old.TrySetResult();
    }

    private static readonly TaskCompletionSource Ended = CompletedSignal();

    private static TaskCompletionSource CompletedSignal()
    {
        var signal = NewSignal();
        signal.TrySetResult();
        return signal;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public void SetNext(Segment next) => Next = next;
    }
}
