namespace EdgeCache.Proxy.Internal;

/// <summary>The hash of a request's primary cache key, for shield selection.</summary>
internal sealed class CacheKeyFeature(ulong keyHash)
{
    public ulong KeyHash { get; } = keyHash;
}
