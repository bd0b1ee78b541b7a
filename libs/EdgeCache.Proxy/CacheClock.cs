namespace EdgeCache.Proxy;

/// <summary>
/// The clock the cache's freshness and Age arithmetic runs on. Kept apart from the TimeProvider
/// that YARP and Kestrel use for timeouts and health probes, so tests can move cache time
/// (a FakeTimeProvider) while sockets and timers keep real time.
/// </summary>
public sealed class CacheClock(TimeProvider time)
{
    public static readonly CacheClock System = new(TimeProvider.System);

    public TimeProvider Time { get; } = time;
}
