using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace EdgeCache.PurgeApi;

/// <summary>
/// The publishers' application instances that poll <c>GET /events</c>, each under the key it polls
/// with: registered by its first poll, live while a poll is open and for
/// <see cref="EventFeedOptions.InstanceLease"/> after its last one ended, gone after that or when it
/// leaves (<c>DELETE /events</c>). A poll's <c>after</c> is the instance's acknowledgement that it
/// applied every event up to it (<see cref="PurgeTracker.ObserveInstance"/>). Instances of one key are
/// never seen by, or waited on for, another key.
/// </summary>
public sealed class InstanceRegistry(PurgeTracker tracker, IOptions<PurgeApiOptions> options)
{
    private readonly ConcurrentDictionary<(string Key, string Instance), Entry> _entries = new();
    private readonly EventFeedOptions _o = options.Value.Feed;

    private sealed class Entry
    {
        public int Polling;
        public long EndedAt;
    }

    /// <summary>Instances registered now, all keys.</summary>
    public int Count => _entries.Count;

    /// <summary>A poll begins: registers the instance (false when its key has
    /// <see cref="EventFeedOptions.MaxInstancesPerKey"/> already) and records what it applied.</summary>
    public bool Begin(string keyId, string instance, ulong? applied)
    {
        Sweep();
        if (!_entries.ContainsKey((keyId, instance)) && CountFor(keyId) >= _o.MaxInstancesPerKey) return false;
        var entry = _entries.GetOrAdd((keyId, instance), static _ => new Entry { EndedAt = TimeProvider.System.GetTimestamp() });
        Interlocked.Increment(ref entry.Polling);
        if (applied is { } a) tracker.ObserveInstance(keyId, instance, a);
        return true;
    }

    /// <summary>A poll ended: the instance's lease runs from now.</summary>
    public void End(string keyId, string instance)
    {
        if (!_entries.TryGetValue((keyId, instance), out var entry)) return;
        Volatile.Write(ref entry.EndedAt, TimeProvider.System.GetTimestamp());
        Interlocked.Decrement(ref entry.Polling);
    }

    /// <summary>The instance leaves (it is stopping): no purge waits for it any more.</summary>
    public bool Leave(string keyId, string instance)
    {
        if (!_entries.TryRemove((keyId, instance), out _)) return false;
        tracker.ForgetInstance(keyId, instance);
        return true;
    }

    /// <summary>The live instances under <paramref name="keyId"/>.</summary>
    public List<string> Live(string keyId)
    {
        Sweep();
        var live = new List<string>();
        foreach (var ((key, instance), _) in _entries)
        {
            if (key == keyId) live.Add(instance);
        }

        return live;
    }

    /// <summary>Drops instances whose lease ended (and the purges' wait for them).</summary>
    public void Sweep()
    {
        foreach (var (id, entry) in _entries)
        {
            if (Volatile.Read(ref entry.Polling) > 0 || TimeProvider.System.GetElapsedTime(Volatile.Read(ref entry.EndedAt)) <= _o.InstanceLease) continue;
            if (_entries.TryRemove(new KeyValuePair<(string, string), Entry>(id, entry))) tracker.ForgetInstance(id.Key, id.Instance);
        }
    }

    private int CountFor(string keyId)
    {
        var n = 0;
        foreach (var ((key, _), _) in _entries)
        {
            if (key == keyId) n++;
        }

        return n;
    }
}
