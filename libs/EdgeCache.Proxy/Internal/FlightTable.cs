using System.Collections.Concurrent;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// Request collapsing: one upstream fetch per key in flight at a node. The first request leads;
/// later ones await its outcome. Waiters whose request the outcome does not fit (not shareable,
/// another Vary variant) fetch on their own, so nothing ever waits on a fetch it cannot use.
/// </summary>
internal sealed class FlightTable
{
    private readonly ConcurrentDictionary<string, Flight> _flights = new(StringComparer.Ordinal);

    private long _joined;

    public int Count => _flights.Count;

    /// <summary>Requests that joined a fetch already in flight (collapsed), since start.</summary>
    public long Collapsed => Interlocked.Read(ref _joined);

    /// <summary>Requests that asked for a fetch, leaders and waiters, since start.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    private long _requests;

    /// <summary>Joins the fetch in flight for <paramref name="key"/>, or starts one (leader = true).</summary>
    public Flight JoinOrStart(string key, out bool leader)
    {
        var mine = new Flight(key);
        var flight = _flights.GetOrAdd(key, mine);
        leader = ReferenceEquals(flight, mine);
        Interlocked.Increment(ref _requests);
        if (!leader) Interlocked.Increment(ref _joined);
        return flight;
    }

    /// <summary>Starts a flight only when none is in flight (background revalidation).</summary>
    public Flight? TryStart(string key)
    {
        var mine = new Flight(key);
        return _flights.TryAdd(key, mine) ? mine : null;
    }

    public void Complete(Flight flight, FetchResult result)
    {
        _flights.TryRemove(new KeyValuePair<string, Flight>(flight.Key, flight));
        flight.Outcome.TrySetResult(result);
    }

    public sealed class Flight(string key)
    {
        public string Key { get; } = key;

        public TaskCompletionSource<FetchResult> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
