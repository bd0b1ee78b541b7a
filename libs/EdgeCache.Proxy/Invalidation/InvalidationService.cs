using EdgeCache.Engine;
using EdgeCache.Nats;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeCache.Proxy.Invalidation;

/// <summary>
/// Keeps a node's cache in step with the invalidation stream: replays from the last sequence kept
/// with the disk checkpoint, applies each event to both tiers, acknowledges it, confirms within the
/// lease that nothing is pending, and announces the node in membership while it is current.
/// </summary>
public sealed class InvalidationService(CacheEngine engine, NodeEndpoints endpoints, ILogger<InvalidationService> logger) : BackgroundService
{
    private readonly InvalidationOptions _options = engine.Options.Invalidation;
    private InvalidationBus? _bus;
    private long _applied;
    private string? _lastError;
    private volatile bool _started;
    private bool _announced;
    private bool _leaseLost;
    private long _streamCreated; // UtcTicks of the followed stream's creation; 0 until known
    private CancellationTokenSource? _resync;

    // Whether the node's state describes the disk store's objects: true once it has read the state kept
    // with the store (or found none to read, in a store it opened new). A store first opened after
    // start-up may hold objects from an earlier run whose purges since are unknown.
    private readonly SemaphoreSlim _storeGate = new(1, 1);
    private bool _storeAdopted;
    private bool _startDecided;
    private bool _lateStoreData;

    /// <summary>The node's NATS connection (null until the service starts or when invalidation is off).</summary>
    internal InvalidationBus? Bus => _bus;

    /// <summary>Times this node found the stream reset (deleted and made again) and emptied its tiers.</summary>
    public int Resets => Volatile.Read(ref _resets);

    private int _resets;

    /// <summary>Times this node found events missing from the stream and dropped everything stored before them.</summary>
    public int Gaps => Volatile.Read(ref _gaps);

    private int _gaps;

    /// <summary>Events applied since start.</summary>
    public long EventsApplied => Interlocked.Read(ref _applied);

    /// <summary>Purge lag, event time (JetStream's) to applied, in seconds.</summary>
    internal System.Diagnostics.Metrics.Histogram<double>? LagHistogram { get; set; }

    /// <summary>The latest events applied, newest first (the status page shows them).</summary>
    public IReadOnlyList<AppliedEvent> Recent
    {
        get
        {
            lock (_recent) return [.. _recent];
        }
    }

    private readonly LinkedList<AppliedEvent> _recent = new();

    /// <summary>True once the node has caught up with the stream at least once, or has given up
    /// waiting because NATS is unreachable (it then serves, degraded).</summary>
    public bool Started => !_options.Enabled || _started;

    /// <summary>Why the node is degraded (NATS unreachable), or null.</summary>
    public string? Degraded => !_options.Enabled ? null : _bus is { Connected: true } ? null : _lastError ?? "not connected to NATS";

    /// <summary>The NATS connection state (Open, Reconnecting …), or "off".</summary>
    public string NatsState => !_options.Enabled ? "off" : _bus?.State.ToString() ?? "Connecting";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled) return;
        await Task.Yield();
        ulong? persisted = null;
        var dataWithoutState = false;
        engine.Tiers.DiskOpened += OnDiskOpened;
        await _storeGate.WaitAsync(stoppingToken).ConfigureAwait(false);
        try
        {
            if (engine.Disk is { } disk)
            {
                _storeAdopted = true;
                if (await disk.ReadStateAsync(stoppingToken).ConfigureAwait(false) is { } state) persisted = engine.Rules.Load(state);
                else dataWithoutState = disk.HasRecoveredData;
            }
        }
        finally
        {
            _storeGate.Release();
        }

        if (persisted is { } p) engine.AppliedSeq = p;

        // Only now that the kept state is loaded: the tiers keep it with every checkpoint of every store
        // they open, this one or any opened later (after a failed start, a stall or a wipe).
        engine.Tiers.CheckpointState = () => engine.Rules.Save(engine.AppliedSeq);

        await using var bus = new InvalidationBus(_options, engine.Options.NodeId);
        _bus = bus;
        var announcer = AnnounceLoopAsync(bus, stoppingToken);
        var first = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            using var resync = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            try
            {
                await bus.EnsureAsync(stoppingToken).ConfigureAwait(false);
                var state = await bus.StreamStateAsync(stoppingToken).ConfigureAwait(false);
                if (first)
                {
                    first = false;
                    await _storeGate.WaitAsync(stoppingToken).ConfigureAwait(false);
                    try
                    {
                        _startDecided = true;
                        await StartFromAsync(persisted, dataWithoutState || _lateStoreData, state).ConfigureAwait(false);
                    }
                    finally
                    {
                        _storeGate.Release();
                    }
                }
                else if (IsReset(state))
                {
                    await ResetAsync(state).ConfigureAwait(false);
                }
                else if (engine.AppliedSeq + 1 < state.First)
                {
                    Log.InvalidationGap(logger, engine.AppliedSeq, state.First);
                    Interlocked.Increment(ref _gaps);
                    engine.PurgeAll(state.First - 1);
                }

                Volatile.Write(ref _streamCreated, state.Created.UtcTicks);
                if (state.Last <= engine.AppliedSeq) Confirm();
                _lastError = null;
                Volatile.Write(ref _resync, resync);
                await foreach (var e in bus.ConsumeAsync(engine.AppliedSeq + 1, resync.Token).ConfigureAwait(false))
                {
                    await ApplyAsync(bus, e, resync.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (OperationCanceledException) when (resync.IsCancellationRequested)
            {
                // The announce loop saw the stream deleted and made again: start over from its state.
                continue;
            }
            catch (Exception ex)
            {
                _lastError = ex.Message;
                if (!_started)
                {
                    // NATS is down at start-up: serve (degraded) rather than never becoming ready.
                    _started = true;
                }

                Log.InvalidationUnavailable(logger, ex.Message);
                try
                {
                    await Task.Delay(_options.ReconnectWait, TimeProvider.System, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            finally
            {
                Interlocked.CompareExchange(ref _resync, null, resync);
            }
        }

        engine.Tiers.DiskOpened -= OnDiskOpened;
        await announcer.ConfigureAwait(false);
        try
        {
            using var cts = new CancellationTokenSource(_options.RequestTimeout);
            if (_announced) await bus.LeaveAsync(engine.Options.NodeId, cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Leaving is a courtesy: the entry expires anyway.
        }
    }

    /// <summary>The URL other nodes reach a bound endpoint at: its address, or this machine's name when it
    /// listens on every interface.</summary>
    private static string? Advertised(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions? listen)
    {
        if (listen?.IPEndPoint is not { } ep) return null;
        var host = ep.Address.Equals(System.Net.IPAddress.Any) || ep.Address.Equals(System.Net.IPAddress.IPv6Any) ? System.Net.Dns.GetHostName()
            : ep.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ep.Address}]" : ep.Address.ToString();
        return $"http://{host}:{ep.Port}";
    }

    private async Task CancelConsumerAsync()
    {
        if (Volatile.Read(ref _resync) is not { } resync) return;
        try
        {
            await resync.CancelAsync().ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // That consumer already ended.
        }
    }

    private void OnDiskOpened(IDiskTier disk) => _ = AdoptLateStoreAsync(disk);

    /// <summary>
    /// A store opened after start-up. A reopened one (after a stall or a wipe) is the store whose state the
    /// node read, or one it emptied: its objects are covered by the node's rules. The first store opened
    /// after a failed start was not read: objects recovered in it were stored before the node's starting
    /// point, and purges issued since are unknown, so they are dropped (as a gap), not served.
    /// </summary>
    private async Task AdoptLateStoreAsync(IDiskTier disk)
    {
        await _storeGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_storeAdopted) return;
            _storeAdopted = true;
            if (!disk.HasRecoveredData) return;
            if (!_startDecided)
            {
                _lateStoreData = true;
                return;
            }

            Log.InvalidationGap(logger, 0, engine.AppliedSeq + 1);
            Interlocked.Increment(ref _gaps);
            engine.PurgeAll(engine.AppliedSeq);
        }
        finally
        {
            _storeGate.Release();
        }
    }

    /// <summary>True when the stream is not the one this node has been following: it was deleted and
    /// made again (a new creation time), or it ends before what the node applied.</summary>
    private bool IsReset(StreamState state) =>
        (Volatile.Read(ref _streamCreated) is var created && created != 0 && created != state.Created.UtcTicks) || state.Last < engine.AppliedSeq;

    /// <summary>The stream was reset: its sequences start over, so stored copies' sequences mean nothing
    /// against its events. Both tiers are emptied and the node follows the new stream from its end.</summary>
    private async Task ResetAsync(StreamState state)
    {
        Log.InvalidationReset(logger, state.Last, engine.AppliedSeq);
        Interlocked.Increment(ref _resets);
        await engine.WipeAsync().ConfigureAwait(false);
        engine.Rules.Clear();
        engine.AppliedSeq = state.Last;
    }

    private async Task StartFromAsync(ulong? persisted, bool dataWithoutState, StreamState state)
    {
        var (streamFirst, streamLast) = (state.First, state.Last);
        if (persisted is not { } applied)
        {
            // Nothing kept: the node has no stored objects older than the stream's current end,
            // unless a store without state was recovered (it is dropped, since its purges are unknown).
            if (dataWithoutState && streamLast > 0)
            {
                Log.InvalidationGap(logger, 0, streamFirst);
                Interlocked.Increment(ref _gaps);
                engine.PurgeAll(streamLast);
            }

            engine.AppliedSeq = streamLast;
            Log.InvalidationResuming(logger, streamLast, "new node: the stream's end");
            return;
        }

        if (streamLast < applied)
        {
            await ResetAsync(state).ConfigureAwait(false);
            return;
        }

        if (applied + 1 < streamFirst)
        {
            Log.InvalidationGap(logger, applied, streamFirst);
            Interlocked.Increment(ref _gaps);
            engine.PurgeAll(streamFirst - 1);
            return;
        }

        Log.InvalidationResuming(logger, applied, "kept with the disk checkpoint");
    }

    private async Task ApplyAsync(InvalidationBus bus, StreamEvent e, CancellationToken cancellationToken)
    {
        var applied = engine.AppliedSeq;
        if (e.Sequence <= applied) return;
        if (e.Sequence > applied + 1)
        {
            // Events between were removed from the stream (limits): their purges are unknown.
            Log.InvalidationGap(logger, applied, e.Sequence);
            Interlocked.Increment(ref _gaps);
            engine.PurgeAll(e.Sequence - 1);
        }

        if (_options.ApplyDelay > TimeSpan.Zero) await Task.Delay(_options.ApplyDelay, TimeProvider.System, cancellationToken).ConfigureAwait(false);
        if (e.Event is not { } ev)
        {
            Log.InvalidationMalformed(logger, e.Sequence);
            engine.AppliedSeq = e.Sequence;
        }
        else
        {
            engine.Apply(ev, e.Sequence);
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
        try
        {
            await bus.AckAsync(new NodeAck { Node = engine.Options.NodeId, Seq = e.Sequence, Id = e.Event?.Id }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The purge API also reads applied sequences from membership.
            _lastError = ex.Message;
        }
    }

    private static string Describe(InvalidationEvent e)
    {
        var parts = new List<string>();
        if (e.All) parts.Add("all");
        if (e.Urls.Length > 0) parts.Add($"{e.Urls.Length} url(s)");
        if (e.Prefixes.Length > 0) parts.Add($"{e.Prefixes.Length} prefix(es)");
        if (e.Tags.Length > 0) parts.Add($"{e.Tags.Length} tag(s)");
        if (e.Hosts.Length > 0) parts.Add("hosts " + string.Join(' ', e.Hosts));
        if (e.MaxAge is { } m) parts.Add($"max-age {m}s");
        return string.Join(", ", parts);
    }

    /// <summary>
    /// The moment up to which a node that has applied <paramref name="applied"/> is confirmed current,
    /// or null: now, when it has applied the stream's end (<paramref name="last"/>); else the time the
    /// previous check was sent, when it has applied everything that check saw.
    /// </summary>
    internal static long? ConfirmedAsOf(ulong applied, ulong last, long now, (ulong Last, long At)? previous) =>
        last <= applied ? now
        : previous is { } p && p.Last <= applied ? p.At
        : null;

    private void Confirm() => Confirm(TimeProvider.System.GetTimestamp());

    private void Confirm(long asOf)
    {
        engine.ConfirmCaughtUp(asOf);
        _started = true;
        if (_leaseLost)
        {
            _leaseLost = false;
            Log.InvalidationCaughtUp(logger, engine.AppliedSeq);
        }
    }

    /// <summary>Confirms the lease (the stream's end is applied) and keeps the membership entry fresh while current.</summary>
    private async Task AnnounceLoopAsync(InvalidationBus bus, CancellationToken cancellationToken)
    {
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(20).Ticks, Math.Min(_options.AnnounceInterval.Ticks, _options.Lease.Ticks / 3)));
        using var timer = new PeriodicTimer(period, TimeProvider.System);
        var lastAnnounce = long.MinValue;

        // The stream's end at the previous check, and when that check was sent. Under a steady flow of
        // purges a node is almost always a few events behind the end at the instant it asks, so
        // "applied the end as of now" may never hold; "applied everything that was in the stream
        // when the previous check was sent" confirms it as of that moment instead.
        (ulong Last, long At)? previous = null;
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    cts.CancelAfter(_options.RequestTimeout);
                    if (bus.Connected)
                    {
                        var asked = TimeProvider.System.GetTimestamp();
                        var state = await bus.StreamStateAsync(cts.Token).ConfigureAwait(false);
                        if (Volatile.Read(ref _streamCreated) != 0 && IsReset(state))
                        {
                            // Never confirm against a different stream: make the consumer start over.
                            previous = null;
                            await CancelConsumerAsync().ConfigureAwait(false);
                        }
                        else if (Volatile.Read(ref _streamCreated) != 0 && ConfirmedAsOf(engine.AppliedSeq, state.Last, TimeProvider.System.GetTimestamp(), previous) is { } asOf)
                        {
                            Confirm(asOf);
                        }

                        previous = (state.Last, asked);
                    }
                    else
                    {
                        previous = null;
                    }

                    if (!engine.IsCurrent)
                    {
                        if (!_leaseLost && _started)
                        {
                            _leaseLost = true;
                            Log.InvalidationLeaseExpired(logger, engine.SinceConfirmed ?? TimeSpan.Zero);
                        }

                        if (_announced && bus.Connected)
                        {
                            await bus.LeaveAsync(engine.Options.NodeId, cts.Token).ConfigureAwait(false);
                            _announced = false;
                        }

                        continue;
                    }

                    if (lastAnnounce != long.MinValue && TimeProvider.System.GetElapsedTime(lastAnnounce) < _options.AnnounceInterval && _announced) continue;
                    if (!bus.Connected) continue;
                    await bus.AnnounceAsync(
                        new NodeInfo
                        {
                            Node = engine.Options.NodeId,
                            Role = engine.Options.Role == NodeRole.Edge ? "edge" : "shield",
                            AppliedSeq = engine.AppliedSeq,
                            Traffic = engine.Options.Listen.AdvertiseTraffic ?? Advertised(endpoints.Traffic.Count > 0 ? endpoints.Traffic[0] : null),
                            Admin = engine.Options.Listen.AdvertiseAdmin ?? Advertised(endpoints.Admin),
                            AnnouncedAt = DateTimeOffset.UtcNow,
                        },
                        cts.Token).ConfigureAwait(false);
                    _announced = true;
                    lastAnnounce = TimeProvider.System.GetTimestamp();
                }
                catch (Exception ex) when (InvalidationBus.IsStreamMissing(ex))
                {
                    // Deleted under a running consumer: start over, which makes the stream again and resets.
                    _lastError = ex.Message;
                    await CancelConsumerAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    _lastError = ex.Message;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>One applied event, for the status page.</summary>
public sealed record AppliedEvent(ulong Sequence, string Id, string Kind, string Selectors, DateTimeOffset AppliedAt, double LagMs);
