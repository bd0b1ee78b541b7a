using System.Collections.Concurrent;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// Request collapsing: one upstream fetch per key in flight at a node. The first request leads;
/// later ones await its outcome. Waiters whose request the outcome does not fit (not shareable,
/// another Vary variant) fetch on their own, so nothing ever waits on a fetch it cannot use.
/// A fetch is in flight until its copy is stored, not only until its response head arrives: a
/// request that comes while the body still streams in finds neither a stored copy nor, were the
/// flight gone at the head, a fetch to join, and would fetch the object again (at a shield, from
/// the origin: the cold-miss storm's double fetches).
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

    /// <summary>
    /// Gives the flight's waiters <paramref name="result"/>. The flight stays joinable until a
    /// storable result's copy is stored (<see cref="FetchResult.Stored"/>, which also completes when
    /// the body fails); any other result ends it now.
    /// </summary>
    public void Complete(Flight flight, FetchResult result)
    {
        flight.Outcome.TrySetResult(result);
        if (result.Stored is { IsCompleted: false } stored)
        {
            _ = stored.ContinueWith(static (_, state) => ((FlightTable Table, Flight Flight))state! is var (table, landed) ? table.Land(landed) : false, (this, flight), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return;
        }

        Land(flight);
    }

    /// <summary>Takes a flight out of the table: a later request for its key starts a new one.</summary>
    private bool Land(Flight flight) => _flights.TryRemove(new KeyValuePair<string, Flight>(flight.Key, flight));

    public sealed class Flight(string key)
    {
        public string Key { get; } = key;

        public TaskCompletionSource<FetchResult> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
