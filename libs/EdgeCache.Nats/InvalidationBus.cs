using System.Runtime.CompilerServices;
using EdgeCache.Engine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;

namespace EdgeCache.Nats;

/// <summary>One event read from the stream, with its sequence and what remains after it.</summary>
public readonly record struct StreamEvent(ulong Sequence, ulong Pending, DateTimeOffset Timestamp, InvalidationEvent? Event);

/// <summary>A membership entry put (<paramref name="Info"/>) or deleted (null) under <paramref name="Key"/>, stored by NATS at <paramref name="Created"/>.</summary>
public readonly record struct MemberChange(string Key, NodeInfo? Info, DateTimeOffset Created);

/// <summary>What the stream holds: sequences <paramref name="First"/> to <paramref name="Last"/>, in a stream created at <paramref name="Created"/>.</summary>
public readonly record struct StreamState(ulong First, ulong Last, DateTimeOffset Created);

/// <summary>
/// EdgeCache's use of NATS, in one place: the invalidation stream on JetStream (events are
/// durable and replayable; core NATS alone is at-most-once), acknowledgements on core subjects,
/// and membership in a key-value bucket whose entries expire unless re-put.
/// </summary>
public sealed class InvalidationBus : IAsyncDisposable
{
    private readonly InvalidationOptions _options;
    private readonly NatsConnection _connection;
    private readonly NatsJSContext _js;
    private readonly NatsKVContext _kv;
    private INatsKVStore? _members;

    /// <param name="options">Where the stream, subjects and bucket are.</param>
    /// <param name="clientName">The connection's name, as the NATS server shows it.</param>
    /// <param name="loggers">Where the NATS client's own warnings go (consumer recreated, heartbeats missed); none when null.</param>
    public InvalidationBus(InvalidationOptions options, string clientName, ILoggerFactory? loggers = null)
    {
        _options = options;
        _connection = new NatsConnection(new NatsOpts
        {
            Url = options.NatsUrl,
            NoRandomize = options.PreferFirstServer,
            Name = clientName,
            ConnectTimeout = options.RequestTimeout,
            RequestTimeout = options.RequestTimeout,
            CommandTimeout = options.RequestTimeout,
            ReconnectWaitMin = options.ReconnectWait,
            ReconnectWaitMax = options.ReconnectWait * 4,
            MaxReconnectRetry = -1,
            PingInterval = options.PingInterval,
            MaxPingOut = 2,
            RetryOnInitialConnect = true,
            PublishTimeoutOnDisconnected = true,
            LoggerFactory = loggers ?? NullLoggerFactory.Instance,
        });
        _js = new NatsJSContext(_connection);
        _kv = new NatsKVContext(_js);
    }

    public InvalidationOptions Options => _options;

    public bool Connected => _connection.ConnectionState == NatsConnectionState.Open;

    public NatsConnectionState State => _connection.ConnectionState;

    /// <summary>Creates the stream and the membership bucket, or updates them to these settings.</summary>
    public async Task EnsureAsync(CancellationToken cancellationToken)
    {
        await _js.CreateOrUpdateStreamAsync(
            new StreamConfig(_options.Stream, [_options.EventsSubject])
            {
                Storage = StreamConfigStorage.File,
                MaxAge = _options.StreamMaxAge,
                MaxMsgs = _options.StreamMaxMessages,
                Discard = StreamConfigDiscard.Old,
                NumReplicas = _options.Replicas,
            },
            cancellationToken).ConfigureAwait(false);
        _members = await _kv.CreateOrUpdateStoreAsync(
            new NatsKVConfig(_options.MembershipBucket) { MaxAge = _options.MembershipTtl, Storage = NatsKVStorageType.File, NumberOfReplicas = _options.Replicas },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The first and last sequence the stream holds (First is Last + 1 when it is empty), and when
    /// the stream was created: a different creation time means the stream was deleted and made again.</summary>
    public async Task<StreamState> StreamStateAsync(CancellationToken cancellationToken)
    {
        var stream = await _js.GetStreamAsync(_options.Stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (_options.Replicas > 1 && stream.Info.Cluster is { } cluster)
        {
            // A server cut off from the rest of its cluster still answers from its own replica (found on
            // the namespaces cluster: the cut-off node "caught up" to a stale end and served purged copies).
            // Only a leader that has heard from a quorum of the stream's replicas within the lease knows the end.
            if (string.IsNullOrEmpty(cluster.Leader)) throw new InvalidOperationException($"stream {_options.Stream} has no leader: its end is unknown");
            var reached = 1;
            foreach (var peer in cluster.Replicas ?? [])
            {
                if (peer.Current && !peer.Offline && peer.Active < _options.Lease) reached++;
            }

            if (reached < (_options.Replicas / 2) + 1)
            {
                throw new InvalidOperationException($"stream {_options.Stream}'s leader {cluster.Leader} reaches {reached} of {_options.Replicas} replicas: its end may be stale");
            }
        }

        var state = stream.Info.State;
        return new StreamState(state.FirstSeq, state.LastSeq, stream.Info.Created);
    }

    /// <summary>True when <paramref name="exception"/> says the stream does not exist (it was deleted).</summary>
    public static bool IsStreamMissing(Exception exception) => exception is NatsJSApiException { Error.Code: 404 };

    /// <summary>Publishes an event; returns its stream sequence once JetStream has stored it.</summary>
    public async Task<ulong> PublishAsync(InvalidationEvent e, CancellationToken cancellationToken)
    {
        var ack = await _js.PublishAsync(_options.EventsSubject, e.Serialize(), cancellationToken: cancellationToken).ConfigureAwait(false);
        ack.EnsureSuccess();
        return ack.Seq;
    }

    /// <summary>Reads events from <paramref name="fromSeq"/> on, in order, through an ordered consumer
    /// (recreated by the client after a disconnect or two missed idle heartbeats, from the last sequence it
    /// delivered). Its pull requests are long (<see cref="InvalidationOptions.ConsumerPullExpires"/>) and its
    /// heartbeats short (<see cref="InvalidationOptions.ConsumerHeartbeat"/>): see those settings for why.</summary>
    public async IAsyncEnumerable<StreamEvent> ConsumeAsync(ulong fromSeq, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var consumer = await _js.CreateOrderedConsumerAsync(
            _options.Stream,
            new NatsJSOrderedConsumerOpts { DeliverPolicy = ConsumerConfigDeliverPolicy.ByStartSequence, OptStartSeq = Math.Max(1, fromSeq) },
            cancellationToken).ConfigureAwait(false);
        var opts = new NatsJSConsumeOpts { MaxMsgs = 1000, Expires = _options.ConsumerPullExpires, IdleHeartbeat = _options.ConsumerHeartbeat };
        await foreach (var msg in consumer.ConsumeAsync<byte[]>(opts: opts, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var meta = msg.Metadata;
            if (meta is not { } m) continue;
            yield return new StreamEvent(m.Sequence.Stream, m.NumPending, m.Timestamp, msg.Data is { } d ? InvalidationEvent.Deserialize(d) : null);
        }
    }

    public ValueTask AckAsync(NodeAck ack, CancellationToken cancellationToken) =>
        _connection.PublishAsync(_options.AckSubject(ack.Node), NatsJsonContext.Encode(ack), cancellationToken: cancellationToken);

    /// <summary>Every node's acknowledgements, as they arrive (core NATS: only while subscribed).
    /// <paramref name="subscribed"/> runs once the server has the subscription.</summary>
    public async IAsyncEnumerable<NodeAck> AcksAsync(Action? subscribed, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var sub = await _connection.SubscribeCoreAsync<byte[]>(_options.AckWildcard, cancellationToken: cancellationToken).ConfigureAwait(false);
        await _connection.PingAsync(cancellationToken).ConfigureAwait(false);
        subscribed?.Invoke();
        await foreach (var msg in sub.Msgs.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            if (NatsJsonContext.Decode(msg.Data, NatsJsonContext.Default.NodeAck) is { } ack) yield return ack;
        }
    }

    /// <summary>
    /// Runs the publish and acknowledgement paths once without an event, so a process's first purge does
    /// not pay for compiling and setting them up (about 300 ms measured on the local CDN, tiered compilation
    /// off): a JetStream publish to a subject no stream takes, which the server refuses at once (no
    /// responders), and an acknowledgement of sequence 0 from <paramref name="node"/>, which no purge waits for.
    /// </summary>
    public async Task WarmUpAsync(string node, CancellationToken cancellationToken)
    {
        var probe = new InvalidationEvent { Id = "warm-up", Kind = InvalidationKind.Purge, Urls = ["http://warm-up.invalid/"] };
        try
        {
            await _js.PublishAsync(_options.SubjectPrefix + ".warm-up", probe.Serialize(), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (NatsException)
        {
            // Expected: no stream takes the subject.
        }

        await AckAsync(new NodeAck { Node = node, Seq = 0, Id = probe.Id }, cancellationToken).ConfigureAwait(false);
    }

    public async Task AnnounceAsync(NodeInfo info, CancellationToken cancellationToken)
    {
        var members = _members ?? throw new InvalidOperationException("EnsureAsync has not run.");
        await members.PutAsync(info.Node, NatsJsonContext.Encode(info), cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public async Task LeaveAsync(string node, CancellationToken cancellationToken)
    {
        if (_members is not { } members) return;
        await members.DeleteAsync(node, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The nodes whose entries have not expired, read with one watcher over the bucket (each key's
    /// latest entry, with its value), not a listing of keys and then one request per key. A read that has not
    /// finished within <see cref="InvalidationOptions.RequestTimeout"/> throws <see cref="TimeoutException"/>:
    /// the watch counts down the entries the bucket held when it started, and one that expires (the bucket's
    /// MaxAge) before it is delivered is never delivered, so while no node puts, the count never reaches zero.
    /// Seen in CI, where a membership outage test waited for ever; a purge reading membership then hung until
    /// its client went away.</summary>
    public async Task<List<NodeInfo>> LiveNodesAsync(CancellationToken cancellationToken)
    {
        var members = _members ?? throw new InvalidOperationException("EnsureAsync has not run.");
        var nodes = new List<NodeInfo>();
        var opts = new NatsKVWatchOpts { OnNoData = static _ => ValueTask.FromResult(true) };
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(_options.RequestTimeout);
        try
        {
            await foreach (var entry in members.WatchAsync<byte[]>(">", opts: opts, cancellationToken: bounded.Token).ConfigureAwait(false))
            {
                if (entry.Operation == NatsKVOperation.Put && NatsJsonContext.Decode(entry.Value, NatsJsonContext.Default.NodeInfo) is { } info) nodes.Add(info);
                if (entry.Delta == 0) break;
            }
        }
        catch (NatsKVException)
        {
            // An empty bucket.
        }
        catch (OperationCanceledException) when (bounded.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The membership bucket was not read within {_options.RequestTimeout.TotalSeconds:0.###} s (Invalidation:RequestTimeout): {nodes.Count} entries read.");
        }

        return nodes;
    }

    /// <summary>
    /// Membership as it changes: each node's current entry, then every put and delete (an entry that
    /// expires is not announced: the bucket's MaxAge drops it silently, so a reader ages entries out
    /// itself by <see cref="MemberChange.Created"/>). <paramref name="caughtUp"/> runs once every entry
    /// the bucket held when the watch started has been delivered, or at once when it held none.
    /// </summary>
    public async IAsyncEnumerable<MemberChange> WatchMembersAsync(Action caughtUp, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var members = _members ?? throw new InvalidOperationException("EnsureAsync has not run.");
        var opts = new NatsKVWatchOpts
        {
            OnNoData = _ =>
            {
                caughtUp();
                return ValueTask.FromResult(false);
            },
        };
        await foreach (var entry in members.WatchAsync<byte[]>(opts: opts, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var info = entry.Operation == NatsKVOperation.Put ? NatsJsonContext.Decode(entry.Value, NatsJsonContext.Default.NodeInfo) : null;
            yield return new MemberChange(entry.Key, info, entry.Created);
            if (entry.Delta == 0) caughtUp();
        }
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
