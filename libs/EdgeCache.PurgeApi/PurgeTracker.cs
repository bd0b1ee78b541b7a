using System.Collections.Concurrent;
using EdgeCache.Nats;

namespace EdgeCache.PurgeApi;

/// <summary>The answer to a purge accepted without <c>wait</c>.</summary>
public sealed record PurgeAccepted(string Id, ulong Sequence);

/// <summary>A purge's progress: which live nodes applied it, how long each took, which have not.</summary>
public sealed record PurgeStatus(string Id, ulong Sequence, bool Complete, NodeAckTime[] Acked, string[] Missing);

public sealed record NodeAckTime(string Node, double Ms);

/// <summary>
/// Follows published events until every node that was live when each was published has applied it:
/// by the nodes' acknowledgements (core NATS), and, for acknowledgements this process missed, by
/// the applied sequence the nodes keep in membership. Remembers the latest purges for <c>GET /purge/{id}</c>.
/// </summary>
public sealed class PurgeTracker(PurgeApiOptions options)
{
    private readonly ConcurrentDictionary<string, Record> _byId = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();
    /// <summary>Per node: the highest sequence it reported applied, and when that report arrived.</summary>
    private readonly ConcurrentDictionary<string, (ulong Seq, long At)> _nodeApplied = new(StringComparer.Ordinal);

    /// <summary>How many purges are remembered.</summary>
    public int Limit => options.RecordLimit;

    /// <summary>Follows a published event; <paramref name="publishedAt"/> is the timestamp taken just before publishing.</summary>
    public Record Track(string id, ulong seq, string keyId, IEnumerable<NodeInfo> live, long publishedAt)
    {
        var record = new Record(id, seq, keyId, publishedAt);
        foreach (var n in live)
        {
            record.Expected.TryAdd(n.Node, 0);
            Observe(n.Node, n.AppliedSeq);
        }

        _byId[id] = record;
        _order.Enqueue(id);
        while (_order.Count > options.RecordLimit && _order.TryDequeue(out var old)) _byId.TryRemove(old, out _);
        foreach (var n in record.Expected.Keys)
        {
            // Acknowledgements that arrived before the record existed: timed by their arrival.
            if (_nodeApplied.TryGetValue(n, out var applied) && applied.Seq >= seq) record.Ack(n, applied.At);
        }

        record.CheckComplete();

        return record;
    }

    public Record? Find(string id) => _byId.GetValueOrDefault(id);

    /// <summary>A node reports (by ack or membership) that it applied everything up to <paramref name="seq"/>.</summary>
    public void Observe(string node, ulong seq)
    {
        var now = TimeProvider.System.GetTimestamp();
        _nodeApplied.AddOrUpdate(node, (seq, now), (_, old) => seq > old.Seq ? (seq, now) : old);
        foreach (var r in _byId.Values)
        {
            if (!r.Complete && r.Sequence <= seq && r.Expected.ContainsKey(node)) r.Ack(node, now);
        }
    }

    public sealed class Record(string id, ulong seq, string keyId, long publishedAt)
    {
        private readonly TaskCompletionSource _complete = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Id { get; } = id;
        public ulong Sequence { get; } = seq;
        public string KeyId { get; } = keyId;

        /// <summary>Nodes live at publication → milliseconds to their acknowledgement (0 = not yet).</summary>
        public ConcurrentDictionary<string, double> Expected { get; } = new(StringComparer.Ordinal);

        public bool Complete => Expected.Values.All(v => v > 0);

        public Task Completed => _complete.Task;

        public void Ack(string node, long at)
        {
            var ms = Math.Max(0.001, TimeProvider.System.GetElapsedTime(publishedAt, at).TotalMilliseconds);
            if (Expected.TryGetValue(node, out var old) && old == 0) Expected.TryUpdate(node, ms, 0);
            if (Complete) _complete.TrySetResult();
        }

        public void CheckComplete()
        {
            if (Complete) _complete.TrySetResult();
        }

        public PurgeStatus ToStatus() => new(
            Id,
            Sequence,
            Complete,
            [.. Expected.Where(e => e.Value > 0).OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => new NodeAckTime(e.Key, Math.Round(e.Value, 2)))],
            [.. Expected.Where(e => e.Value == 0).Select(e => e.Key).Order(StringComparer.Ordinal)]);
    }
}
