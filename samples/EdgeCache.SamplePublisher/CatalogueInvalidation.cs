using EdgeCache.Client;
using Microsoft.Extensions.Caching.Hybrid;

namespace EdgeCache.SamplePublisher;

/// <summary>
/// After a write: clears this instance's HybridCache entries, then the CDN's pages, by the same tags.
/// Local first, so a CDN miss that reaches this app after the purge reads the database, never the old
/// entry. The CDN purge waits until every edge and shield applied it, so when this returns no node serves
/// the old page.
/// </summary>
/// <remarks>
/// This clears only this instance's HybridCache. With the EdgeCache backplane (issue #20), the one line
/// <c>services.AddHybridCache().AddEdgeCacheInvalidation(...)</c> in <see cref="PublisherApp"/> replaces
/// <c>services.AddHybridCache()</c>; then the CDN purge below reaches every instance's HybridCache too, and
/// the <c>RemoveByTagAsync</c> call here becomes redundant (harmless).
/// </remarks>
public sealed class CatalogueInvalidation(HybridCache cache, EdgeCacheClient cdn)
{
    public async Task<PurgeResult> InvalidateAsync(string[] tags, CancellationToken cancellationToken)
    {
        await cache.RemoveByTagAsync(tags, cancellationToken).ConfigureAwait(false);
        return await cdn.PurgeAsync(PurgeSelector.ForTags(tags), new PurgeOptions { Wait = true }, cancellationToken).ConfigureAwait(false);
    }
}
