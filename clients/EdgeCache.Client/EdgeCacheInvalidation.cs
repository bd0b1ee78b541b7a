using EdgeCache.Client.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.Client;

/// <summary>
/// The HybridCache backplane, as the application sees it (register it with
/// <c>services.AddHybridCache().AddEdgeCacheInvalidation()</c> and inject it): where this instance
/// is in the purge API's event feed, and invalidations that clear this instance's HybridCache at once,
/// then the CDN's edges and shields and every other instance under the same key, through one event.
/// </summary>
public sealed class EdgeCacheInvalidation
{
    private readonly BackplaneState _state;
    private readonly EventApplier _applier;
    private readonly IServiceProvider _services;

    internal EdgeCacheInvalidation(BackplaneState state, EventApplier applier, IServiceProvider services, string instanceId)
    {
        _state = state;
        _applier = applier;
        _services = services;
        InstanceId = instanceId;
    }

    /// <summary>The tag by which a purge of <paramref name="url"/> removes entries (the convention): tag
    /// an entry built for a page with its page's URL, <c>tags: [EdgeCacheInvalidation.UrlTag(url)]</c>.
    /// <c>url:</c> and the absolute URL as <see cref="Uri"/> writes it (scheme and host in lower case).</summary>
    public static string UrlTag(string url) =>
        "url:" + (Uri.TryCreate(url, UriKind.Absolute, out var u) ? u.AbsoluteUri : url);

    /// <summary>This instance's id in the feed (the API's <c>instances</c> lists name it).</summary>
    public string InstanceId { get; }

    /// <summary>The last stream sequence whose events this instance applied (null before its first poll).</summary>
    public ulong? AppliedSequence => _state.Cursor;

    /// <summary>True while this instance confirmed within its lease that it applied every event: only then is L1 used.</summary>
    public bool IsConfirmed => _state.IsConfirmed;

    /// <summary>Invalidates <paramref name="tags"/>: removed from this instance's HybridCache first, then one
    /// purge event for the CDN and every instance. With <paramref name="wait"/>, it returns once every
    /// live edge and shield and every live instance registered under this key applied it (or the wait
    /// timed out: see <see cref="PurgeResult.Complete"/>, <see cref="PurgeResult.Missing"/>,
    /// <see cref="PurgeResult.InstancesMissing"/>).</summary>
    public Task<PurgeResult> InvalidateTagsAsync(IEnumerable<string> tags, bool wait = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tags);
        return InvalidateAsync(PurgeSelector.ForTags(tags), new PurgeOptions { Wait = wait }, cancellationToken);
    }

    /// <summary>As <see cref="InvalidateTagsAsync"/>, for any selector: applied here by the backplane's
    /// convention first, then purged everywhere.</summary>
    public async Task<PurgeResult> InvalidateAsync(PurgeSelector selector, PurgeOptions? purge = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(selector);
        var client = _services.GetService<EdgeCacheClient>() ?? throw new InvalidOperationException("Register the purge client too: services.AddEdgeCacheClient(...).");
        await _applier.ApplyAsync(new FeedEvent { Urls = [.. selector.Urls], Prefixes = [.. selector.Prefixes], Tags = [.. selector.Tags], Hosts = [.. selector.Hosts], All = selector.All }, cancellationToken).ConfigureAwait(false);
        return await client.PurgeAsync(selector, purge, cancellationToken).ConfigureAwait(false);
    }
}
