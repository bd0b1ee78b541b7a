using System.Collections.Concurrent;
using EdgeCache.Engine;
using EdgeCache.Nats;

namespace EdgeCache.Proxy.Invalidation;

/// <summary>
/// The node's own path for invalidation events: the stream's consumer hands each event to one dedicated
/// thread, which applies it to the tiers and hands the acknowledgement to NATS. Requests run on the thread
/// pool; an event waits for no pool thread between being handed over and being applied, however many
/// requests are queued there. Applying is in-memory work (the disk tier's removals run on its own
/// workers), so one thread keeps up with any event rate NATS delivers.
/// </summary>
public sealed partial class InvalidationService
{
    /// <summary>Events handed over and not yet applied, at most: the consumer waits when the thread is this far behind.</summary>
    internal const int ApplyQueueCapacity = 1024;

    private readonly BlockingCollection<ApplyWork> _work = new(new ConcurrentQueue<ApplyWork>());
    private readonly SemaphoreSlim _room = new(ApplyQueueCapacity, ApplyQueueCapacity);
    private readonly TaskCompletionSource _applierStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Thread? _applier;

    // Set by the thread when an apply failed: it skips what follows until the consumer has stopped and
    // drained (a barrier), and the consumer then starts again after the last sequence that was applied.
    private Exception? _applyFailure;
    private bool _skipping;

    /// <summary>One item for the thread: an event to apply, or a barrier completed once everything before it is applied.</summary>
    private readonly record struct ApplyWork(InvalidationBus? Bus, StreamEvent Event, TaskCompletionSource? Barrier);

    private void StartApplier(CancellationToken stoppingToken)
    {
        _applier = new Thread(() => ApplyLoop(stoppingToken)) { IsBackground = true, Name = "edgecache-invalidation" };
        _applier.Start();
    }

    /// <summary>Hands an event to the thread, waiting while it is <see cref="ApplyQueueCapacity"/> events behind.</summary>
    private async ValueTask HandOverAsync(InvalidationBus bus, StreamEvent e, CancellationToken cancellationToken)
    {
        await _room.WaitAsync(cancellationToken).ConfigureAwait(false);
        Interlocked.Exchange(ref _deliveredSeq, (long)e.Sequence);
        Interlocked.Exchange(ref _deliveredPending, (long)e.Pending);
        DeliveryLagHistogram?.Record(Math.Max(0, (DateTimeOffset.UtcNow - e.Timestamp).TotalSeconds));
        _work.Add(new ApplyWork(bus, e, null), CancellationToken.None);
    }

    /// <summary>Completes once every event handed over so far is applied (or skipped after a failure); the
    /// consumer has stopped, so the state is the service's alone until it starts again.</summary>
    private Task DrainAppliedAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_work.IsAddingCompleted || !_work.TryAdd(new ApplyWork(null, default, done))) done.TrySetResult();
        return done.Task;
    }

    /// <summary>Stops the thread once it has applied what it holds.</summary>
    private Task StopApplierAsync()
    {
        _work.CompleteAdding();
        if (_applier is null) _applierStopped.TrySetResult();
        return _applierStopped.Task;
    }

    private void ApplyLoop(CancellationToken stoppingToken)
    {
        try
        {
            // Until the service stops handing over (not at the stopping token): what was handed over is applied.
            foreach (var work in _work.GetConsumingEnumerable(CancellationToken.None))
            {
                if (work.Barrier is { } barrier)
                {
                    _skipping = false;
                    barrier.TrySetResult();
                    continue;
                }

                try
                {
                    if (!_skipping) ApplyOne(work.Bus!, work.Event, stoppingToken);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // Nothing after it may be applied before it: skip the rest and have the consumer start over.
                    _skipping = true;
                    _lastError = ex.Message;
                    Log.InvalidationApplyFailed(logger, ex, work.Event.Sequence, state.AppliedSeq);
                    Volatile.Write(ref _applyFailure, ex);
                    _ = CancelConsumerAsync();
                }
                finally
                {
                    _room.Release();
                }
            }
        }
        finally
        {
            _applierStopped.TrySetResult();
        }
    }

    private void ApplyOne(InvalidationBus bus, StreamEvent e, CancellationToken stoppingToken)
    {
        var applied = state.AppliedSeq;
        if (e.Sequence <= applied) return;
        if (e.Sequence > applied + 1)
        {
            // Events between were removed from the stream (limits): their purges are unknown.
            Log.InvalidationGap(logger, applied, e.Sequence);
            Interlocked.Increment(ref _gaps);
            state.PurgeAll(e.Sequence - 1);
        }

        // The test hook's wait: this thread is the node's only applier, so it simulates a slow node.
        if (ApplyDelay is { Ticks: > 0 } delay) stoppingToken.WaitHandle.WaitOne(delay);
        if (e.Event is not { } ev)
        {
            Log.InvalidationMalformed(logger, e.Sequence);
            state.Advance(e.Sequence);
        }
        else
        {
            Apply(ev, e.Sequence);
            Interlocked.Increment(ref _applied);
            var lag = DateTimeOffset.UtcNow - e.Timestamp;
            LagHistogram?.Record(Math.Max(0, lag.TotalSeconds));
            Log.InvalidationApplied(logger, ev.Kind.ToString(), ev.Id, e.Sequence, ev.SelectorCount, ev.Soft);
            lock (_recent)
            {
                _recent.AddFirst(new AppliedEvent(e.Sequence, ev.Id, ev.Kind == InvalidationKind.Ttl ? "ttl" : ev.Soft ? "soft" : "purge", Describe(ev), DateTimeOffset.UtcNow, lag.TotalMilliseconds));
                while (_recent.Count > 20) _recent.RemoveLast();
            }
        }

        if (e.Pending == 0) Confirm();

        // Handed to the connection's buffer here; NATS's writer sends it. Not waited for: the next event
        // must not wait behind a flush.
        ValueTask ack;
        try
        {
            ack = bus.AckAsync(new NodeAck { Node = engine.Options.NodeId, Seq = e.Sequence, Id = e.Event?.Id }, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The purge API also reads applied sequences from membership.
            _lastError = ex.Message;
            return;
        }

        if (ack.IsCompletedSuccessfully)
        {
            ack.GetAwaiter().GetResult();
            AckLagHistogram?.Record(Math.Max(0, (DateTimeOffset.UtcNow - e.Timestamp).TotalSeconds));
        }
        else
        {
            _ = AckedAsync(ack, e.Timestamp);
        }
    }

    private async Task AckedAsync(ValueTask ack, DateTimeOffset published)
    {
        try
        {
            await ack.ConfigureAwait(false);
            AckLagHistogram?.Record(Math.Max(0, (DateTimeOffset.UtcNow - published).TotalSeconds));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _lastError = ex.Message;
        }
    }
}
