using Microsoft.Extensions.Caching.Hybrid;

namespace EdgeCache.Client.Internal;

/// <summary>
/// The application's <see cref="HybridCache"/>, wrapped: while this instance has not confirmed within
/// its lease that it applied every event (<see cref="BackplaneState.IsConfirmed"/>), every read and
/// write bypasses L1 (<see cref="HybridCacheEntryFlags.DisableLocalCache"/>): what L1 holds may be
/// stale by an event it has not seen, so it is neither served nor added to until a poll confirms
/// again, after the missed events are applied. The L2 and the factory are used as usual.
/// </summary>
internal sealed class LeaseGuardedHybridCache(HybridCache inner, BackplaneState state, HybridCacheEntryOptions? defaults) : HybridCache
{
    public HybridCache Inner => inner;

    public override ValueTask<T> GetOrCreateAsync<TState, T>(string key, TState state1, Func<TState, CancellationToken, ValueTask<T>> factory, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default) =>
        inner.GetOrCreateAsync(key, state1, factory, Guard(options), tags, cancellationToken);

    public override ValueTask SetAsync<T>(string key, T value, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default) =>
        inner.SetAsync(key, value, Guard(options), tags, cancellationToken);

    public override ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default) => inner.RemoveAsync(key, cancellationToken);

    public override ValueTask RemoveAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default) => inner.RemoveAsync(keys, cancellationToken);

    public override ValueTask RemoveByTagAsync(string tag, CancellationToken cancellationToken = default) => inner.RemoveByTagAsync(tag, cancellationToken);

    public override ValueTask RemoveByTagAsync(IEnumerable<string> tags, CancellationToken cancellationToken = default) => inner.RemoveByTagAsync(tags, cancellationToken);

    /// <summary>The call's options, with L1 off while unconfirmed (the rest as the call, or the defaults, had it).</summary>
    internal HybridCacheEntryOptions? Guard(HybridCacheEntryOptions? options)
    {
        if (state.IsConfirmed) return options;
        return new HybridCacheEntryOptions
        {
            Expiration = options?.Expiration ?? defaults?.Expiration,
            LocalCacheExpiration = options?.LocalCacheExpiration ?? defaults?.LocalCacheExpiration,
            Flags = (options?.Flags ?? defaults?.Flags ?? HybridCacheEntryFlags.None) | HybridCacheEntryFlags.DisableLocalCache,
        };
    }
}
