namespace EdgeCache.Client;

/// <summary>How one purge or TTL call is made.</summary>
public record EdgeCacheCallOptions
{
    /// <summary>Answer once every live edge and shield applied it (or <see cref="WaitTimeout"/> passed:
    /// then <see cref="PurgeResult.Complete"/> is false and <see cref="PurgeResult.Missing"/> names the nodes).</summary>
    public bool Wait { get; init; }

    /// <summary>With <see cref="Wait"/>: how long the API waits (1 ms to 60 s); default
    /// <see cref="EdgeCacheClientOptions.DefaultWaitTimeout"/>.</summary>
    public TimeSpan? WaitTimeout { get; init; }

    /// <summary>The call's <c>Idempotency-Key</c>, sent on every attempt; default a new random one per
    /// call. Give your own to make a call safe to repeat across process restarts (e.g. a job's id):
    /// within the API's window the repeat returns the first call's purge, no second event.</summary>
    public string? IdempotencyKey { get; init; }
}
