using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Options;

namespace EdgeCache.Client.Internal;

/// <summary>
/// Applies one feed event to this instance's HybridCache, by the documented convention: each tag with
/// <see cref="HybridCache.RemoveByTagAsync(string, CancellationToken)"/>; a host, a prefix or
/// everything with the wildcard tag <c>*</c> (HybridCache cannot select by host or prefix); each URL
/// by its tag <see cref="EdgeCacheInvalidation.UrlTag(string)"/> and the keys
/// <see cref="EdgeCacheInvalidationOptions.KeysForUrl"/> maps it to. A soft purge and a TTL change
/// are removals too: HybridCache has no stale entries, and a new lifetime is the next fill's.
/// Applying an event twice does what applying it once does.
/// </summary>
internal sealed class EventApplier(HybridCache cache, IOptions<EdgeCacheInvalidationOptions> options)
{
    public const string Wildcard = "*";

    /// <summary>Applies <paramref name="e"/>; true when it removed everything (the wildcard).</summary>
    public async Task<bool> ApplyAsync(FeedEvent e, CancellationToken cancellationToken)
    {
        if (e.All || e.Hosts.Length > 0 || e.Prefixes.Length > 0)
        {
            await cache.RemoveByTagAsync(Wildcard, cancellationToken).ConfigureAwait(false);
            return true;
        }

        foreach (var tag in e.Tags) await cache.RemoveByTagAsync(tag, cancellationToken).ConfigureAwait(false);
        var keysForUrl = options.Value.KeysForUrl;
        foreach (var url in e.Urls)
        {
            await cache.RemoveByTagAsync(EdgeCacheInvalidation.UrlTag(url), cancellationToken).ConfigureAwait(false);
            if (keysForUrl is null || !Uri.TryCreate(url, UriKind.Absolute, out var uri)) continue;
            foreach (var key in keysForUrl(uri)) await cache.RemoveAsync(key, cancellationToken).ConfigureAwait(false);
        }

        return false;
    }

    /// <summary>The feed no longer holds what this instance missed: nothing in L1 can be trusted.</summary>
    public ValueTask ResetAsync(CancellationToken cancellationToken) => cache.RemoveByTagAsync(Wildcard, cancellationToken);
}
