namespace EdgeCache.Proxy.Invalidation;

/// <summary>
/// The clock the invalidation lease runs on: when the node last confirmed it was caught up with the
/// stream, how long ago that was, and how often it checks. Kept apart from <see cref="CacheClock"/>
/// (cache ages) and from the system clock that NATS reconnects, request timeouts and membership
/// heartbeats use, so tests can move lease time by hand (a FakeTimeProvider) while sockets keep real time.
/// </summary>
public sealed class InvalidationClock(TimeProvider time)
{
    public static readonly InvalidationClock System = new(TimeProvider.System);

    public TimeProvider Time { get; } = time;
}
