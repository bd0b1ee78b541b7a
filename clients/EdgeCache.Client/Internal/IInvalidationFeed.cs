namespace EdgeCache.Client.Internal;

/// <summary>Where the backplane reads events from: the purge API's <c>GET /events</c>
/// (<see cref="HttpInvalidationFeed"/>), or a fake in unit tests.</summary>
internal interface IInvalidationFeed
{
    /// <summary>The events after <paramref name="after"/> (null: none, just where to start), waiting up to <paramref name="timeout"/> for one.</summary>
    Task<FeedPage> PollAsync(ulong? after, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>Unregisters this instance (it is stopping), so no purge waits for it.</summary>
    Task LeaveAsync(CancellationToken cancellationToken);
}
