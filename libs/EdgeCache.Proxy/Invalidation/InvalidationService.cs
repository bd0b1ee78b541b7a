using EdgeCache.Engine;
using EdgeCache.Nats;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeCache.Proxy.Invalidation;

/// <summary>
/// Keeps a node's cache in step with the invalidation stream: replays from the last sequence kept
/// with the disk checkpoint, applies each event to both tiers, acknowledges it, confirms within the
/// lease that nothing is pending, and announces the node in membership while it is current.
/// The only writer of the node's <see cref="InvalidationState"/>; its lease runs on that state's clock
/// (<see cref="InvalidationClock"/>), while NATS reconnects, request timeouts and membership heartbeats keep the system clock.
/// </summary>
public sealed class InvalidationService(CacheEngine engine, InvalidationState state, NodeEndpoints endpoints, ILoggerFactory loggers, ILogger<InvalidationService> logger) : BackgroundService
{
    private readonly InvalidationOptions _options = engine.Options.Invalidation;
    private readonly TimeProvider _leaseTime = state.Time;
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

    /// <summary>Test hook: a delay before each event is applied (simulates a slow node). Starts at
    /// <see cref="InvalidationOptions.ApplyDelay"/>; a test may change it on a live node.</summary>
    internal TimeSpan ApplyDelay
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _applyDelayTicks));
        set => Interlocked.Exchange(ref _applyDelayTicks, value.Ticks);
    }

    private long _applyDelayTicks = engine.Options.Invalidation.ApplyDelay.Ticks;

    /// <summary>Events applied since start.</summary>
    public long EventsApplied => Interlocked.Read(ref _applied);

    /// <summary>Purge lag, event time (JetStream's) to applied, in seconds.</summary>
    internal System.Diagnostics.Metrics.Histogram<double>? LagHistogram { get; set; }

    /// <summary>Event time (JetStream's) to the node's NATS client handing the event over, in seconds.</summary>
    internal System.Diagnostics.Metrics.Histogram<double>? DeliveryLagHistogram { get; set; }

    /// <summary>Event time (JetStream's) to the node's acknowledgement being handed to NATS, in seconds.</summary>
    internal System.Diagnostics.Metrics.Histogram<double>? AckLagHistogram { get; set; }

    /// <summary>Events the stream holds that this node has not applied yet: those delivered and waiting to
    /// be applied, plus those the consumer reported still pending in the stream after the last delivered one.</summary>
    public long Pending
    {
        get
        {
            var delivered = Interlocked.Read(ref _deliveredSeq);
            var behind = delivered - (long)state.AppliedSeq;
            return Math.Max(0, behind) + Interlocked.Read(ref _deliveredPending);
        }
    }

    /// <summary>The last sequence the stream's consumer handed to the node to apply.</summary>
    public ulong DeliveredSeq => (ulong)Interlocked.Read(ref _deliveredSeq);

    private long _deliveredSeq;
    private long _deliveredPending;

    /// <summary>Times the node's consumer of the stream was started again after its first start (after an
    /// error, a disconnect or a suspected reset of the stream).</summary>
    public long ConsumerRestarts => Interlocked.Read(ref _consumerRestarts);

    private long _consumerRestarts;

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

    /// <summary>True once membership has listed this node: from then on every purge published waits for its
    /// acknowledgement. Until then the announce loop checks every 20 ms, not every check period.</summary>
    private volatile bool _listedOnce;

    /// <summary>Why the node is degraded (NATS unreachable), or null.</summary>
    public string? Degraded => !_options.Enabled ? null : _bus is { Connected: true } ? null : _lastError ?? "not connected to NATS";

    /// <summary>The NATS connection state (Open, Reconnecting …), or "off".</summary>
    public string NatsState => !_options.Enabled ? "off" : _bus?.State.ToString() ?? "Connecting";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled) return;

        // Not in membership yet: stored objects are revalidated until the entry is put (InvalidationState.Listed).
        state.Unlisted();
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
                if (await disk.ReadStateAsync(stoppingToken).ConfigureAwait(false) is { } kept) persisted = state.Load(kept);
                else dataWithoutState = disk.HasRecoveredData;
            }
        }
        finally
        {
            _storeGate.Release();
        }

        // Only now that the kept state is loaded: the tiers keep it with every checkpoint of every store
        // they open, this one or any opened later (after a failed start, a stall or a wipe).
        engine.Tiers.CheckpointState = state.Save;

        await using var bus = new InvalidationBus(_options, engine.Options.NodeId, loggers);
        _bus = bus;
        var leaseChecks = LeaseLoopAsync(bus, stoppingToken);
        var announcer = AnnounceLoopAsync(bus, stoppingToken);
        var first = true;
        var consumerStarts = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            using var resync = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            try
            {
                await bus.EnsureAsync(stoppingToken).ConfigureAwait(false);
                var stream = await bus.StreamStateAsync(stoppingToken).ConfigureAwait(false);
                if (first)
                {
                    first = false;
                    await WarmUpAsync(bus, stoppingToken).ConfigureAwait(false);
                    await _storeGate.WaitAsync(stoppingToken).ConfigureAwait(false);
                    try
                    {
                        _startDecided = true;
                        await StartFromAsync(persisted, dataWithoutState || _lateStoreData, stream).ConfigureAwait(false);
                    }
                    finally
                    {
                        _storeGate.Release();
                    }
                }
                else if (IsReset(stream, state.AppliedSeq))
                {
                    await ResetAsync(stream).ConfigureAwait(false);
                }
                else if (state.AppliedSeq + 1 < stream.First)
                {
                    Log.InvalidationGap(logger, state.AppliedSeq, stream.First);
                    Interlocked.Increment(ref _gaps);
                    state.PurgeAll(stream.First - 1);
                }

                Volatile.Write(ref _streamCreated, stream.Created.UtcTicks);
                if (stream.Last <= state.AppliedSeq) Confirm();
                _lastError = null;
                Volatile.Write(ref _resync, resync);
                if (consumerStarts++ > 0) Interlocked.Increment(ref _consumerRestarts);
                await foreach (var e in bus.ConsumeAsync(state.AppliedSeq + 1, resync.Token).ConfigureAwait(false))
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
        await leaseChecks.ConfigureAwait(false);
        await announcer.ConfigureAwait(false);
        try
        {
            using var cts = new CancellationTokenSource(_options.RequestTimeout);
            state.Unlisted();
            if (_announced) await bus.LeaveAsync(engine.Options.NodeId, cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Leaving is a courtesy: the entry expires anyway.
        }
    }

    /// <summary>The URL other nodes reach a bound endpoint at: its scheme (https where it takes TLS), and its
    /// address, or this machine's name when it listens on every interface.</summary>
    private static string? Advertised(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions? listen, bool tls)
    {
        if (listen?.IPEndPoint is not { } ep) return null;
        var host = ep.Address.Equals(System.Net.IPAddress.Any) || ep.Address.Equals(System.Net.IPAddress.IPv6Any) ? System.Net.Dns.GetHostName()
            : ep.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ep.Address}]" : ep.Address.ToString();
        return $"{(tls ? "https" : "http")}://{host}:{ep.Port}";
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

            Log.InvalidationGap(logger, 0, state.AppliedSeq + 1);
            Interlocked.Increment(ref _gaps);
            state.PurgeAll(state.AppliedSeq);
        }
        finally
        {
            _storeGate.Release();
        }
    }

    /// <summary>True when the stream is not the one this node has been following: it was deleted and
    /// made again (a new creation time), or it ends before <paramref name="applied"/>, a sequence the node had
    /// applied before the stream's state was asked for. (One read after the answer may already include
    /// events published after the server answered, so it would make a live stream look reset.)</summary>
    private bool IsReset(StreamState stream, ulong applied) =>
        (Volatile.Read(ref _streamCreated) is var created && created != 0 && created != stream.Created.UtcTicks) || stream.Last < applied;

    /// <summary>The stream was reset: its sequences start over, so stored copies' sequences mean nothing
    /// against its events. Both tiers are emptied and the node follows the new stream from its end.</summary>
    private async Task ResetAsync(StreamState stream)
    {
        Log.InvalidationReset(logger, stream.Last, state.AppliedSeq);
        Interlocked.Increment(ref _resets);
        await engine.WipeAsync().ConfigureAwait(false);
        state.Reset(stream.Last);
    }

    private async Task StartFromAsync(ulong? persisted, bool dataWithoutState, StreamState stream)
    {
        var (streamFirst, streamLast) = (stream.First, stream.Last);
        if (persisted is not { } applied)
        {
            // Nothing kept: the node has no stored objects older than the stream's current end,
            // unless a store without state was recovered (it is dropped, since its purges are unknown).
            if (dataWithoutState && streamLast > 0)
            {
                Log.InvalidationGap(logger, 0, streamFirst);
                Interlocked.Increment(ref _gaps);
                state.PurgeAll(streamLast);
            }

            state.ResumeAt(streamLast);
            Log.InvalidationResuming(logger, streamLast, "new node: the stream's end");
            return;
        }

        if (streamLast < applied)
        {
            await ResetAsync(stream).ConfigureAwait(false);
            return;
        }

        if (applied + 1 < streamFirst)
        {
            Log.InvalidationGap(logger, applied, streamFirst);
            Interlocked.Increment(ref _gaps);
            state.PurgeAll(streamFirst - 1);
            return;
        }

        Log.InvalidationResuming(logger, applied, "kept with the disk checkpoint");
    }

    private async Task ApplyAsync(InvalidationBus bus, StreamEvent e, CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _deliveredSeq, (long)e.Sequence);
        Interlocked.Exchange(ref _deliveredPending, (long)e.Pending);
        DeliveryLagHistogram?.Record(Math.Max(0, (DateTimeOffset.UtcNow - e.Timestamp).TotalSeconds));
        var applied = state.AppliedSeq;
        if (e.Sequence <= applied) return;
        if (e.Sequence > applied + 1)
        {
            // Events between were removed from the stream (limits): their purges are unknown.
            Log.InvalidationGap(logger, applied, e.Sequence);
            Interlocked.Increment(ref _gaps);
            state.PurgeAll(e.Sequence - 1);
        }

        if (ApplyDelay is { Ticks: > 0 } delay) await Task.Delay(delay, TimeProvider.System, cancellationToken).ConfigureAwait(false);
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
        Acknowledge(bus, e);
    }

    /// <summary>
    /// Hands the acknowledgement of an applied event to the connection. Not waited for: when NATS's writer is
    /// behind (a flush pending on a busy thread pool), the next event is applied meanwhile. Not cancelled by
    /// the consumer's token either: the event is applied, so its acknowledgement must go even when the
    /// consumer is being restarted (it starts after this sequence and would never acknowledge it again).
    /// </summary>
    private void Acknowledge(InvalidationBus bus, StreamEvent e)
    {
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
            _ = AcknowledgedAsync(ack, e.Timestamp);
        }
    }

    private async Task AcknowledgedAsync(ValueTask ack, DateTimeOffset published)
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

    /// <summary>
    /// Applies one invalidation event at stream sequence <paramref name="seq"/>: records its rules
    /// (see <see cref="InvalidationRules"/>), drops the exact URLs of a hard purge from both tiers at
    /// once, then counts the sequence applied. (Tests call it to apply an event without the stream.)
    /// </summary>
    /// <summary>
    /// Runs the apply and acknowledgement paths once on a probe (a scratch rule set, never the tiers; a URL
    /// under the reserved <c>.invalid</c> domain; an acknowledgement of sequence 0 that no purge waits for), so the node's first
    /// real purge does not pay for compiling them: it was the slowest of a soak, 300-650 ms on every node.
    /// </summary>
    private async Task WarmUpAsync(InvalidationBus bus, CancellationToken cancellationToken)
    {
        var probe = InvalidationEvent.Deserialize(new InvalidationEvent { Id = "warm-up", Kind = InvalidationKind.Purge, Urls = ["http://warm-up.invalid/"], Tags = ["warm-up"] }.Serialize())!;
        new InvalidationRules(16).Apply(probe, 1, engine.Time.GetUtcNow(), engine.Locate);
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(_options.RequestTimeout);
            await bus.AckAsync(new NodeAck { Node = engine.Options.NodeId, Seq = 0, Id = probe.Id }, cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A warm-up that fails leaves the first purge slower, no more.
        }
    }

    internal void Apply(InvalidationEvent e, ulong seq)
    {
        state.Record(e, seq, engine.Time.GetUtcNow(), engine.Locate);
        engine.DropPurgedUrls(e);
        state.Advance(seq);
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

    private void Confirm() => Confirm(_leaseTime.GetTimestamp());

    private void Confirm(long asOf)
    {
        state.Confirm(asOf);
        _started = true;
        if (_leaseLost)
        {
            _leaseLost = false;
            Log.InvalidationCaughtUp(logger, state.AppliedSeq);
        }
    }

    /// <summary>How often the lease is checked and membership refreshed: within the announce interval,
    /// and at least three times per lease.</summary>
    private TimeSpan CheckPeriod => TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(20).Ticks, Math.Min(_options.AnnounceInterval.Ticks, state.Lease.Ticks / 3)));

    /// <summary>
    /// Confirms the lease when the stream's end is applied, on the lease clock (its timer and every
    /// timestamp), and notices when the lease runs out or the stream was reset.
    /// </summary>
    private async Task LeaseLoopAsync(InvalidationBus bus, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(CheckPeriod, _leaseTime);

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
                    if (bus.Connected)
                    {
                        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                        cts.CancelAfter(_options.RequestTimeout);
                        var asked = _leaseTime.GetTimestamp();
                        var appliedBefore = state.AppliedSeq;
                        var stream = await bus.StreamStateAsync(cts.Token).ConfigureAwait(false);
                        if (Volatile.Read(ref _streamCreated) != 0 && IsReset(stream, appliedBefore))
                        {
                            // Never confirm against a different stream: make the consumer start over.
                            Log.InvalidationConsumerRestart(logger, "the stream looks reset", stream.Last, state.AppliedSeq);
                            previous = null;
                            await CancelConsumerAsync().ConfigureAwait(false);
                        }
                        else if (Volatile.Read(ref _streamCreated) != 0 && ConfirmedAsOf(state.AppliedSeq, stream.Last, _leaseTime.GetTimestamp(), previous) is { } asOf)
                        {
                            Confirm(asOf);
                        }

                        previous = (stream.Last, asked);
                    }
                    else
                    {
                        previous = null;
                    }
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

                if (!state.IsConfirmed && !_leaseLost && _started)
                {
                    _leaseLost = true;
                    Log.InvalidationLeaseExpired(logger, state.SinceConfirmed ?? TimeSpan.Zero);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The next tick; until the node is first listed, every 20 ms (it is not ready before).</summary>
    private async ValueTask<bool> NextCheckAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        if (_listedOnce) return await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Keeps the membership entry fresh while the node is current and removes it when it is not
    /// (on the system clock: the entry's TTL runs in NATS).</summary>
    private async Task AnnounceLoopAsync(InvalidationBus bus, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(CheckPeriod, TimeProvider.System);
        var lastAnnounce = long.MinValue;
        try
        {
            // The first check runs at once, not a period later: the node is not ready until it is listed.
            do
            {
                try
                {
                    using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    cts.CancelAfter(_options.RequestTimeout);
                    if (!state.IsConfirmed)
                    {
                        // Unlisted first: the node stops serving stored objects before purges stop waiting for it.
                        state.Unlisted();
                        if (_announced && bus.Connected)
                        {
                            await bus.LeaveAsync(engine.Options.NodeId, cts.Token).ConfigureAwait(false);
                            _announced = false;
                        }

                        continue;
                    }

                    if (lastAnnounce != long.MinValue && TimeProvider.System.GetElapsedTime(lastAnnounce) < _options.AnnounceInterval && _announced) continue;
                    if (!bus.Connected) continue;

                    // Not before Kestrel has bound the ports: a configured port 0 reads 0 until then, and an
                    // announced ":0" is a URL no edge can use (seen in a test that started a node on port 0).
                    if (endpoints.AdvertisedTraffic?.IPEndPoint is { Port: 0 } || endpoints.Admin?.IPEndPoint is { Port: 0 }) continue;

                    // Set first: an announcement cut short (by shutdown, say) may still have reached NATS,
                    // and a node that may be listed must leave when it stops.
                    _announced = true;
                    await bus.AnnounceAsync(
                        new NodeInfo
                        {
                            Node = engine.Options.NodeId,
                            Role = engine.Options.Role == NodeRole.Edge ? "edge" : "shield",
                            AppliedSeq = state.AppliedSeq,
                            Traffic = engine.Options.Listen.AdvertiseTraffic ?? Advertised(endpoints.AdvertisedTraffic, endpoints.AdvertisedTraffic is { } t && endpoints.IsTls(t)),
                            Admin = engine.Options.Listen.AdvertiseAdmin ?? Advertised(endpoints.Admin, tls: false),
                            AnnouncedAt = DateTimeOffset.UtcNow,
                        },
                        cts.Token).ConfigureAwait(false);
                    lastAnnounce = TimeProvider.System.GetTimestamp();
                    state.Listed();
                    _listedOnce = true;
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
            while (await NextCheckAsync(timer, cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>One applied event, for the status page.</summary>
public sealed record AppliedEvent(ulong Sequence, string Id, string Kind, string Selectors, DateTimeOffset AppliedAt, double LagMs);
