using System.Diagnostics.Metrics;

namespace EdgeCache.Proxy.Internal;

/// <summary>What the upstream retry loop did (<c>edgecache.upstream.retries</c>, <c>edgecache.upstream.abandoned</c>).</summary>
internal sealed class UpstreamCounters
{
    private long _retriedAfterConnectionFailure;
    private long _retriedAfterShieldDown;
    private long _abandoned;

    /// <summary>Requests to a shield given up before its response head because its health checks marked it down meanwhile.</summary>
    public long Abandoned => Interlocked.Read(ref _abandoned);

    public void CountAbandoned() => Interlocked.Increment(ref _abandoned);

    public void CountRetry(bool shieldDown)
    {
        if (shieldDown) Interlocked.Increment(ref _retriedAfterShieldDown);
        else Interlocked.Increment(ref _retriedAfterConnectionFailure);
    }

    public IEnumerable<Measurement<long>> Retries
    {
        get
        {
            yield return new Measurement<long>(Interlocked.Read(ref _retriedAfterConnectionFailure), new KeyValuePair<string, object?>("edgecache.reason", "connection"));
            yield return new Measurement<long>(Interlocked.Read(ref _retriedAfterShieldDown), new KeyValuePair<string, object?>("edgecache.reason", "shield-down"));
        }
    }
}
