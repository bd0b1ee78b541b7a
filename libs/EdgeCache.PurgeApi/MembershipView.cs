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
/// </summary>
public sealed class MembershipView(InvalidationBus bus, PurgeTracker tracker, ILogger<MembershipView> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, (NodeInfo Info, DateTimeOffset Until)> _members = new(StringComparer.Ordinal);
    private volatile bool _caughtUp;

    /// <summary>The nodes live now, or null when the watch is not caught up or has stalled (read the bucket instead).</summary>
    public List<NodeInfo>? Live()
    {
        if (!_caughtUp) return null;
        var now = DateTimeOffset.UtcNow;
        var live = new List<NodeInfo>(_members.Count);
        foreach (var (_, member) in _members)
        {
            if (member.Until > now) live.Add(member.Info);
        }

        // Entries that all expired without being deleted mean the watch has heard nothing for a whole
        // MembershipTtl while nodes re-put theirs every AnnounceInterval: it is stalled (its server cut
        // off from the cluster), not an empty cluster. Unknown, so callers read the bucket.
        if (live.Count == 0 && !_members.IsEmpty) return null;
        return live;
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
                        _members[change.Key] = (info, since + bus.Options.MembershipTtl);
                        tracker.Observe(info.Node, info.AppliedSeq);
                        if (_caughtUp) ResolveUnknown();
                    }
                    else
                    {
                        _members.TryRemove(change.Key, out _);
                    }
                }
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
