using System.Collections.Concurrent;
using EdgeCache.Nats;

namespace EdgeCache.PurgeApi;

/// <summary>The answer to a purge accepted without <c>wait</c>.</summary>
public sealed record PurgeAccepted(string Id, ulong Sequence);

/// <summary>A purge's progress: which live nodes applied it, how long each took, which have not; and
/// the same for the application instances registered under the purging key (<see cref="InstancesStatus"/>).
/// <paramref name="Complete"/> covers both.</summary>
public sealed record PurgeStatus(string Id, ulong Sequence, bool Complete, NodeAckTime[] Acked, string[] Missing, InstancesStatus? Instances = null);

public sealed record NodeAckTime(string Node, double Ms);

/// <summary>The purging key's application instances live at publication: those that applied it (with the
/// time to their acknowledgement), those that have not, and those that dropped out (their lease ended,
/// or they left) before applying it.</summary>
public sealed record InstancesStatus(InstanceAckTime[] Acked, string[] Missing, string[] Left);

public sealed record InstanceAckTime(string Instance, double Ms);

/// <summary>
/// Follows published events until every node that was live when each was published has applied it:
/// by the nodes' acknowledgements (core NATS), and, for acknowledgements this process missed, by
/// the applied sequence the nodes keep in membership. Remembers the latest purges for <c>GET /purge/{id}</c>.
/// An acknowledgement visits only the purges still waiting on a node, each done in constant time: it
/// used to test every remembered purge (up to <see cref="PurgeApiOptions.RecordLimit"/>, 10,000), each
/// by copying its node table, on the one loop that reads every acknowledgement.
/// </summary>
public sealed class PurgeTracker(PurgeApiOptions options)
{
    private readonly ConcurrentDictionary<string, Record> _byId = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Record, byte> _pending = new();
    private readonly ConcurrentQueue<string> _order = new();
    /// <summary>Per node: the highest sequence it reported applied, and when that report arrived.</summary>
    private readonly ConcurrentDictionary<string, (ulong Seq, long At)> _nodeApplied = new(StringComparer.Ordinal);

    /// <summary>Per (key id, instance): the same, for publishers' application instances.</summary>
    private readonly ConcurrentDictionary<(string Key, string Instance), (ulong Seq, long At)> _instanceApplied = new();

    /// <summary>How many purges are remembered.</summary>
    public int Limit => options.RecordLimit;

    /// <summary>Purges still waiting on at least one node.</summary>
    public int Pending => _pending.Count;

    /// <summary>The placeholder a purge waits on (and names in <c>missing</c>) when membership could not be
    /// read at its publication: no node can acknowledge it, so it is never reported complete.</summary>
    public const string MembershipUnavailable = "(membership unavailable)";

    /// <summary>Follows a published event; <paramref name="publishedAt"/> is the timestamp taken just before publishing;
    /// <paramref name="instances"/>: the application instances registered under <paramref name="keyId"/> now;
    /// <paramref name="membershipUnknown"/>: membership could not be read, so it waits on <see cref="MembershipUnavailable"/>.</summary>
    public Record Track(string id, ulong seq, string keyId, IEnumerable<NodeInfo> live, long publishedAt, IEnumerable<string>? instances = null, bool membershipUnknown = false)
    {
        var record = new Record(id, seq, keyId, publishedAt);
        if (membershipUnknown)
        {
            record.Expect(MembershipUnavailable);
            Interlocked.Increment(ref _unknownMembership);
        }

        foreach (var n in live)
        {
            record.Expect(n.Node);
            Observe(n.Node, n.AppliedSeq);
        }

        foreach (var i in instances ?? []) record.ExpectInstance(i);

        _byId[id] = record;
        _pending[record] = 0;
        _order.Enqueue(id);
        while (_order.Count > options.RecordLimit && _order.TryDequeue(out var old))
        {
            if (_byId.TryRemove(old, out var forgotten))
            {
                _pending.TryRemove(forgotten, out _);
                if (forgotten.DropPlaceholder()) Interlocked.Decrement(ref _unknownMembership);
            }
        }

        foreach (var n in record.Expected.Keys)
        {
            // Acknowledgements that arrived before the record existed: timed by their arrival.
            if (_nodeApplied.TryGetValue(n, out var applied) && applied.Seq >= seq) record.Ack(n, applied.At);
        }

        foreach (var i in record.ExpectedInstances.Keys)
        {
            if (_instanceApplied.TryGetValue((keyId, i), out var applied) && applied.Seq >= seq) record.AckInstance(i, applied.At);
        }

        if (record.Complete) _pending.TryRemove(record, out _);
        return record;
    }

    public Record? Find(string id) => _byId.GetValueOrDefault(id);

    private int _unknownMembership;

    /// <summary>Whether some remembered purge was published while membership could not be read.</summary>
    public bool HasUnknownMembership => Volatile.Read(ref _unknownMembership) > 0;

    /// <summary>
    /// Membership is readable again: every purge still waiting on <see cref="MembershipUnavailable"/> now
    /// waits on the nodes live now instead, each acknowledged at once if it already reported applying the
    /// purge's sequence (by ack, or by its membership entry). A node that joined since applies the purge
    /// from the stream like any other event, so waiting on it is sound; a node that left in between is
    /// not waited on, as for any purge. So such a purge completes once the cluster has applied it, and
    /// <c>GET /purge/{id}</c> says so, instead of staying incomplete for ever.
    /// </summary>
    public void ResolveUnknownMembership(IReadOnlyCollection<NodeInfo> live)
    {
        if (!HasUnknownMembership) return;
        foreach (var n in live) Observe(n.Node, n.AppliedSeq);
        foreach (var (r, _) in _pending)
        {
            if (!r.Expected.ContainsKey(MembershipUnavailable)) continue;
            foreach (var n in live) r.ExpectLate(n.Node);
            if (!r.DropPlaceholder()) continue;
            Interlocked.Decrement(ref _unknownMembership);
            foreach (var n in live)
            {
                if (_nodeApplied.TryGetValue(n.Node, out var applied) && applied.Seq >= r.Sequence) r.Ack(n.Node, applied.At);
            }

            if (r.Complete) _pending.TryRemove(r, out _);
        }
    }

    /// <summary>Whether some node has reported (by ack or membership) and not left since: then no node to
    /// wait on is an outage, not an empty cluster (<see cref="MembershipView"/>).</summary>
    public bool HasHeardFromNodes => !_nodeApplied.IsEmpty;

    /// <summary>A node left (its membership entry was deleted).</summary>
    public void ForgetNode(string node) => _nodeApplied.TryRemove(node, out _);

    /// <summary>A node reports (by ack or membership) that it applied everything up to <paramref name="seq"/>.</summary>
    public void Observe(string node, ulong seq)
    {
        if (node == AckListener.WarmUpNode) return;
        var now = TimeProvider.System.GetTimestamp();
        _nodeApplied.AddOrUpdate(node, (seq, now), (_, old) => seq > old.Seq ? (seq, now) : old);
        foreach (var (r, _) in _pending)
        {
            if (r.Sequence <= seq && r.Ack(node, now) && r.Complete) _pending.TryRemove(r, out _);
        }
    }

    /// <summary>An application instance under <paramref name="keyId"/> reports (by its next poll's cursor)
    /// that it applied everything up to <paramref name="seq"/>.</summary>
    public void ObserveInstance(string keyId, string instance, ulong seq)
    {
        var now = TimeProvider.System.GetTimestamp();
        _instanceApplied.AddOrUpdate((keyId, instance), (seq, now), (_, old) => seq > old.Seq ? (seq, now) : old);
        foreach (var (r, _) in _pending)
        {
            if (r.Sequence <= seq && r.KeyId == keyId && r.AckInstance(instance, now) && r.Complete) _pending.TryRemove(r, out _);
        }
    }

    /// <summary>An instance dropped out (its lease ended, or it left): no purge waits for it any more.</summary>
    public void ForgetInstance(string keyId, string instance)
    {
        _instanceApplied.TryRemove((keyId, instance), out _);
        foreach (var (r, _) in _pending)
        {
            if (r.KeyId == keyId && r.DropInstance(instance) && r.Complete) _pending.TryRemove(r, out _);
        }
    }

    public sealed class Record(string id, ulong seq, string keyId, long publishedAt)
    {
        private readonly TaskCompletionSource _complete = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _waitingOn;

        public string Id { get; } = id;
        public ulong Sequence { get; } = seq;
        public string KeyId { get; } = keyId;

        /// <summary>Nodes live at publication → milliseconds to their acknowledgement (0 = not yet).</summary>
        public ConcurrentDictionary<string, double> Expected { get; } = new(StringComparer.Ordinal);

        /// <summary>The purging key's instances live at publication → milliseconds to their acknowledgement
        /// (0 = not yet, -1 = dropped out first).</summary>
        public ConcurrentDictionary<string, double> ExpectedInstances { get; } = new(StringComparer.Ordinal);

        public bool Complete => Volatile.Read(ref _waitingOn) == 0;

        public Task Completed => Complete ? Task.CompletedTask : _complete.Task;

        /// <summary>Adds a node that must acknowledge (only before the record is shared).</summary>
        internal void Expect(string node)
        {
            if (Expected.TryAdd(node, 0)) _waitingOn++;
        }

        /// <summary>Adds a node that must acknowledge to a record already shared (membership read late).</summary>
        internal void ExpectLate(string node)
        {
            if (Expected.TryAdd(node, 0)) Interlocked.Increment(ref _waitingOn);
        }

        /// <summary>Stops waiting on <see cref="MembershipUnavailable"/>; true when it was still waited on.</summary>
        internal bool DropPlaceholder()
        {
            if (!Expected.TryRemove(new KeyValuePair<string, double>(MembershipUnavailable, 0))) return false;
            if (Interlocked.Decrement(ref _waitingOn) == 0) _complete.TrySetResult();
            return true;
        }

        /// <summary>Adds an instance that must acknowledge (only before the record is shared).</summary>
        internal void ExpectInstance(string instance)
        {
            if (ExpectedInstances.TryAdd(instance, 0)) _waitingOn++;
        }

        /// <summary>Records an instance's acknowledgement; true when this purge still waited on it.</summary>
        public bool AckInstance(string instance, long at)
        {
            var ms = Math.Max(0.001, TimeProvider.System.GetElapsedTime(publishedAt, at).TotalMilliseconds);
            return Settle(ExpectedInstances, instance, ms);
        }

        /// <summary>An instance dropped out before acknowledging; true when this purge still waited on it.</summary>
        public bool DropInstance(string instance) => Settle(ExpectedInstances, instance, -1);

        private bool Settle(ConcurrentDictionary<string, double> table, string name, double value)
        {
            if (!table.TryUpdate(name, value, 0)) return false;
            if (Interlocked.Decrement(ref _waitingOn) == 0) _complete.TrySetResult();
            return true;
        }

        /// <summary>Records <paramref name="node"/>'s acknowledgement; true when it was one this purge still waited on.</summary>
        public bool Ack(string node, long at)
        {
            var ms = Math.Max(0.001, TimeProvider.System.GetElapsedTime(publishedAt, at).TotalMilliseconds);
            if (!Expected.TryUpdate(node, ms, 0)) return false;
            if (Interlocked.Decrement(ref _waitingOn) == 0) _complete.TrySetResult();
            return true;
        }

        public PurgeStatus ToStatus() => new(
            Id,
            Sequence,
            Complete,
            [.. Expected.Where(e => e.Value > 0).OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => new NodeAckTime(e.Key, Math.Round(e.Value, 2)))],
            [.. Expected.Where(e => e.Value == 0).Select(e => e.Key).Order(StringComparer.Ordinal)],
            new InstancesStatus(
                [.. ExpectedInstances.Where(e => e.Value > 0).OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => new InstanceAckTime(e.Key, Math.Round(e.Value, 2)))],
                [.. ExpectedInstances.Where(e => e.Value == 0).Select(e => e.Key).Order(StringComparer.Ordinal)],
                [.. ExpectedInstances.Where(e => e.Value < 0).Select(e => e.Key).Order(StringComparer.Ordinal)]));
    }
}
