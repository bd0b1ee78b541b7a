using EdgeCache.Client;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.SamplePublisher;

/// <summary>
/// After a write: clears this instance's HybridCache entries, then the CDN's pages and every other instance's
/// entries, by the same tags, and waits until all of them applied it.
/// </summary>
/// <remarks>
/// <para>With the backplane (<c>SamplePublisher:Backplane</c>, on by default) this is one call,
/// <see cref="EdgeCacheInvalidation.InvalidateTagsAsync"/>: one purge event, which every edge and shield and
/// every live instance of this app registered under the key applies; the wait covers them all.</para>
/// <para>Without it, this instance's <c>RemoveByTagAsync</c> and then the CDN purge: other instances keep their
/// L1 entries until <c>SamplePublisher:LookupExpiration</c>.</para>
/// <para>Local first either way, so a CDN miss that reaches this instance after the purge reads the database
/// (or a newer L2 entry), never the old entry. An instance refuses L2 entries older than the tag removals it
/// has applied itself, and reads another instance's removal from the L2 only once per tag: so without the
/// backplane, other instances may also take the old L2 entry.</para>
/// </remarks>
public sealed class CatalogueInvalidation(HybridCache cache, EdgeCacheClient cdn, IServiceProvider services)
{
    public async Task<PurgeResult> InvalidateAsync(string[] tags, CancellationToken cancellationToken)
    {
        if (services.GetService<EdgeCacheInvalidation>() is { } backplane)
        {
            return await backplane.InvalidateTagsAsync(tags, wait: true, cancellationToken).ConfigureAwait(false);
        }

        await cache.RemoveByTagAsync(tags, cancellationToken).ConfigureAwait(false);
        return await cdn.PurgeAsync(PurgeSelector.ForTags(tags), new PurgeOptions { Wait = true }, cancellationToken).ConfigureAwait(false);
    }
}
