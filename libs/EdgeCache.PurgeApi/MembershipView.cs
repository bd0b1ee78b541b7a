using System.Collections.Concurrent;
using EdgeCache.Nats;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeCache.PurgeApi;

/// <summary>
/// The live nodes, kept in this process by a watch on the membership bucket, so a purge learns which
/// nodes must acknowledge it without asking NATS: reading the bucket on every purge (list its keys
/// through a new consumer, then get each entry) cost several round trips, the larger part of a purge's
/// round trip from a new connection. Each put also counts as the node's report of its applied
/// sequence (for acknowledgements this process missed). An entry counts as live for the bucket's
/// MaxAge (<see cref="InvalidationOptions.MembershipTtl"/>) after it was put, as NATS keeps it; the
/// bucket drops expired entries without telling watchers. Until the watch has caught up, and while
/// it is broken, <see cref="Live"/> is null and callers read the bucket as before.
/// <para>
/// Through an outage (the namespaces cluster's NATS server leading the stream killed: for longer than
/// MembershipTtl no node could put, and the watch was restarted on a bucket that had emptied) the bucket
/// and the watch both say "no nodes" while every node is alive. So the view also remembers the nodes it
/// knows (put, never deleted), across restarts of the watch: no live entry while it knows nodes is an
/// outage, not an empty cluster (<see cref="Live"/> is null, and an empty or partial reading of the
/// bucket is not trusted, <see cref="Trust"/>), until the known nodes have put again.
/// </para>
/// </summary>
public sealed class MembershipView(InvalidationBus bus, PurgeTracker tracker, ILogger<MembershipView> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, (NodeInfo Info, DateTimeOffset Until)> _members = new(StringComparer.Ordinal);

    /// <summary>Nodes whose last word was a put (a delete removes them), kept when the watch restarts.</summary>
    private readonly ConcurrentDictionary<string, byte> _known = new(StringComparer.Ordinal);

    private volatile bool _caughtUp;

    /// <summary>Set when no known node had a live entry (an outage); cleared once membership has settled.</summary>
    private volatile bool _stalled;

    /// <summary>When the first put after a stall arrived (UTC ticks; 0 = none yet).</summary>
    private long _recoveringSince;

    /// <summary>
    /// The nodes live now, or null when the watch is not caught up, or when no node it knows is live (a
    /// stall: read the bucket instead, <see cref="Trust"/>), or while the nodes put again after a stall.
    /// </summary>
    public List<NodeInfo>? Live()
    {
        if (!_caughtUp) return null;
        var now = DateTimeOffset.UtcNow;
        var live = new List<NodeInfo>(_members.Count);
        foreach (var (_, member) in _members)
        {
            if (member.Until > now) live.Add(member.Info);
        }

        // Known nodes and none of them live: the watch (or the bucket) has heard nothing for a whole
        // MembershipTtl while nodes re-put theirs every AnnounceInterval. Unknown, not an empty cluster.
        if (live.Count == 0 && Knows())
        {
            MarkStalled();
            return null;
        }

        // After a stall the nodes put again one by one, each at its next AnnounceInterval: the first
        // entries back are not the cluster (a purge waiting on them alone would be answered complete
        // before the others applied it). Unknown until every node known before the stall is back, or a
        // whole MembershipTtl has passed since the first came back (a node still silent then is gone, as
        // it would have been without the stall).
        if (_stalled)
        {
            var since = Interlocked.Read(ref _recoveringSince);
            if (live.Count < _known.Count && (since == 0 || now.UtcTicks - since < bus.Options.MembershipTtl.Ticks)) return null;
            _stalled = false;
        }

        if (live.Count < _known.Count || live.Count < _members.Count) Forget(now);
        return live;
    }

    /// <summary>
    /// Whether <paramref name="read"/>, a reading of the bucket made while <see cref="Live"/> was null, can
    /// say who must apply a purge: not when it is empty while this view knows nodes, nor, during a stall,
    /// when it lacks one of them (the bucket's MaxAge drops entries while nobody can put, so such a reading
    /// is the outage). Found on the namespaces cluster: a purge published as the stream's new leader was
    /// elected read no nodes and was answered complete with no node acknowledging it.
    /// </summary>
    public bool Trust(IReadOnlyCollection<NodeInfo> read)
    {
        if (!Knows()) return true;
        if (read.Count == 0) return false;
        if (!_stalled) return true;
        foreach (var node in _known.Keys)
        {
            var found = false;
            foreach (var n in read)
            {
                if (n.Node == node) { found = true; break; }
            }

            if (!found) return false;
        }

        return true;
    }

    /// <summary>While some entries are live (the watch works and has caught up), a known node without a live
    /// entry is gone: forgotten, so that a later stall waits only for the nodes live before it.</summary>
    private void Forget(DateTimeOffset now)
    {
        foreach (var entry in _members)
        {
            if (entry.Value.Until <= now) _members.TryRemove(entry);
        }

        foreach (var node in _known.Keys)
        {
            if (!_members.ContainsKey(node)) _known.TryRemove(node, out _);
        }
    }

    /// <summary>Whether nodes are known: put in the bucket and not deleted, or heard from by their acks (a
    /// watch that started on a bucket emptied by an outage knows none itself; seen on the namespaces
    /// cluster, where it then answered a purge complete with no node acknowledging it).</summary>
    private bool Knows() => !_known.IsEmpty || tracker.HasHeardFromNodes;

    private void MarkStalled()
    {
        _stalled = true;
        Interlocked.Exchange(ref _recoveringSince, 0);
    }

    private void CaughtUp()
    {
        _caughtUp = true;
        ResolveUnknown();
    }

    /// <summary>Purges published while membership was unreadable wait on the nodes live now (see
    /// <see cref="PurgeTracker.ResolveUnknownMembership"/>).</summary>
    private void ResolveUnknown()
    {
        if (tracker.HasUnknownMembership && Live() is { } live) tracker.ResolveUnknownMembership(live);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await bus.EnsureAsync(stoppingToken).ConfigureAwait(false);
                _members.Clear();
                await foreach (var change in bus.WatchMembersAsync(CaughtUp, stoppingToken).ConfigureAwait(false))
                {
                    if (change.Info is { } info)
                    {
                        // A put seen as it happens is dated by its arrival here (no clock skew with NATS);
                        // the entries the watch starts with, by when NATS stored them.
                        var since = _caughtUp ? DateTimeOffset.UtcNow : change.Created;
                        if (_caughtUp && Live() is null && _stalled) Interlocked.CompareExchange(ref _recoveringSince, since.UtcTicks, 0);
                        _members[change.Key] = (info, since + bus.Options.MembershipTtl);
                        _known[change.Key] = 0;
                        tracker.Observe(info.Node, info.AppliedSeq);
                        if (_caughtUp) ResolveUnknown();
                    }
                    else
                    {
                        _members.TryRemove(change.Key, out _);
                        _known.TryRemove(change.Key, out _);
                        tracker.ForgetNode(change.Key);
                    }
                }

                Log.NatsUnavailable(logger, "the membership watch ended");
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                Log.NatsUnavailable(logger, ex.Message);
            }

            _caughtUp = false;
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
}
