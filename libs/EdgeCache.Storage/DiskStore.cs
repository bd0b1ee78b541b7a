using EdgeCache.Engine;
using EdgeCache.Storage.Internal;
using FASTER.core;
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
        DisposeReadSessions();
        _store.Dispose();
        _device.Dispose();
        _stopping.Dispose();
        foreach (var l in _urlLocks) l.Dispose();
    }
}
