using EdgeCache.Engine;
using EdgeCache.Nats;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeCache.PurgeApi;

/// <summary>
/// The API's copy of the invalidation stream's latest events, for <c>GET /events</c>: one ordered
/// consumer per API process (not one per instance, and never a NATS connection from an instance),
/// the latest <see cref="EventFeedOptions.BufferEvents"/> in memory. It answers for a cursor
/// <c>after</c> when every event after it is held (<see cref="Floor"/> ≤ after ≤ <see cref="Last"/>);
/// otherwise the reader is told to reset. It confirms every <see cref="EventFeedOptions.ConfirmInterval"/>
/// that JetStream holds nothing it has not read, and <see cref="IsConfirmed"/> turns false when it has
/// not for <see cref="EventFeedOptions.Lease"/>, as a node's lease does.
/// </summary>
public sealed class EventFeed(InvalidationBus bus, IOptions<PurgeApiOptions> options, ILogger<EventFeed> logger) : BackgroundService
{
    private readonly Lock _gate = new();
    private readonly EventFeedOptions _o = options.Value.Feed;
    private (ulong Seq, InvalidationEvent Event)[] _ring = [];
    private int _head;
    private int _count;
    private ulong _floor;
    private ulong _last;
    private bool _caughtUp;
    private long _confirmedAt;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the next change (an event, or the confirmation turning on or off).</summary>
    public Task Changed
    {
        get
        {
            lock (_gate) return _changed.Task;
        }
    }

    /// <summary>Every event after this sequence is held (events at or before it may not be).</summary>
    public ulong Floor
    {
        get
        {
            lock (_gate) return _floor;
        }
    }

    /// <summary>The highest sequence read from the stream.</summary>
    public ulong Last
    {
        get
        {
            lock (_gate) return _last;
        }
    }

    /// <summary>Caught up with the stream, confirmed within <see cref="EventFeedOptions.Lease"/>.</summary>
    public bool IsConfirmed
    {
        get
        {
            lock (_gate) return _caughtUp && TimeProvider.System.GetElapsedTime(_confirmedAt) <= _o.Lease;
        }
    }

    /// <summary>What a reader at <paramref name="after"/> (null: a new reader) gets: up to
    /// <paramref name="max"/> events after it that <paramref name="relevant"/> keeps, and the cursor to
    /// poll from next; <c>Reset</c> when the events after it are no longer (or not yet) held.</summary>
    public FeedRead Read(ulong? after, int max, Func<InvalidationEvent, InvalidationEvent?> relevant)
    {
        lock (_gate)
        {
            if (after is not { } a) return new FeedRead(false, _last, []);
            if (a < _floor || a > _last) return new FeedRead(true, _last, []);
            var events = new List<(ulong, InvalidationEvent)>();
            var cursor = _last;
            for (var i = 0; i < _count; i++)
            {
                var (seq, e) = _ring[(_head + i) % _ring.Length];
                if (seq <= a) continue;
                if (relevant(e) is not { } kept) continue;
                if (events.Count == max)
                {
                    cursor = events[^1].Item1;
                    break;
                }

                events.Add((seq, kept));
            }

            return new FeedRead(false, cursor, events);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            using var run = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            try
            {
                await bus.EnsureAsync(run.Token).ConfigureAwait(false);
                var state = await bus.StreamStateAsync(run.Token).ConfigureAwait(false);
                var from = Math.Max(state.First, state.Last >= (ulong)_o.BufferEvents ? state.Last - (ulong)_o.BufferEvents + 1 : 1);
                Start(from - 1, state.Last);
                var confirm = ConfirmAsync(run.Token);
                var consume = ConsumeAsync(from, run.Token);
                var ended = await Task.WhenAny(confirm, consume).ConfigureAwait(false);
                await ended.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                Log.FeedInterrupted(logger, ex.Message);
            }
            finally
            {
                await run.CancelAsync().ConfigureAwait(false);
            }

            Unconfirm();
            try
            {
                await Task.Delay(bus.Options.ReconnectWait, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>A fresh copy: nothing held, every event after <paramref name="floor"/> to be read, caught up
    /// once <paramref name="target"/> is read.</summary>
    private void Start(ulong floor, ulong target)
    {
        lock (_gate)
        {
            _ring = new (ulong, InvalidationEvent)[_o.BufferEvents];
            _head = 0;
            _count = 0;
            _floor = floor;
            _last = floor;
            _caughtUp = target <= floor;
            if (_caughtUp) _confirmedAt = TimeProvider.System.GetTimestamp();
            Signal();
        }

        _target = target;
    }

    private ulong _target;

    private async Task ConsumeAsync(ulong from, CancellationToken cancellationToken)
    {
        await foreach (var m in bus.ConsumeAsync(from, cancellationToken).ConfigureAwait(false))
        {
            lock (_gate)
            {
                if (m.Sequence <= _last) continue;
                if (m.Event is { } e)
                {
                    if (_count == _ring.Length)
                    {
                        _floor = _ring[_head].Seq;
                        _head = (_head + 1) % _ring.Length;
                        _count--;
                    }

                    _ring[(_head + _count) % _ring.Length] = (m.Sequence, e);
                    _count++;
                }

                _last = m.Sequence;
                if (!_caughtUp && _last >= _target)
                {
                    _caughtUp = true;
                    _confirmedAt = TimeProvider.System.GetTimestamp();
                }

                Signal();
            }
        }
    }

    /// <summary>Every ConfirmInterval: the stream's last sequence, asked at t, is one this copy has read, so
    /// the copy was complete at t. A stream whose last sequence went backwards was made anew: start over.</summary>
    private async Task ConfirmAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_o.ConfirmInterval);
        do
        {
            var asked = TimeProvider.System.GetTimestamp();
            StreamState state;
            try
            {
                state = await bus.StreamStateAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException && !InvalidationBus.IsStreamMissing(ex))
            {
                // Not confirmed this time; the lease runs out if it goes on.
                continue;
            }

            lock (_gate)
            {
                if (state.Last < _last) throw new InvalidOperationException($"the stream's last sequence ({state.Last}) is below the feed's ({_last}): the stream was recreated");
                if (_caughtUp && state.Last <= _last)
                {
                    var was = TimeProvider.System.GetElapsedTime(_confirmedAt) <= _o.Lease;
                    _confirmedAt = asked;
                    if (!was) Signal();
                }
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
    }

    private void Unconfirm()
    {
        lock (_gate)
        {
            _caughtUp = false;
            Signal();
        }
    }

    private void Signal()
    {
        var old = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }
}

/// <summary>One read of the feed: <paramref name="Reset"/> when the reader's cursor is not answerable,
/// the events (with their sequences), and the cursor to poll from next.</summary>
public sealed record FeedRead(bool Reset, ulong Last, List<(ulong Sequence, InvalidationEvent Event)> Events);
