namespace EdgeCache.Client;

/// <summary>Options of <see cref="EdgeCacheClient.WarmAsync"/>.</summary>
public record WarmOptions
{
    /// <summary>Also fetch each URL into every live edge, after its shield has it. Default false: the shield
    /// alone, which every edge asks on a miss.</summary>
    public bool Edges { get; init; }
}

/// <summary>Options of <see cref="EdgeCacheClient.RefreshAsync"/>.</summary>
public sealed record RefreshOptions : WarmOptions
{
    /// <summary>Return once every live node applied the purge of older copies. Default true: only then does
    /// the refresh guarantee that no node serves the old page.</summary>
    public bool Wait { get; init; } = true;

    /// <summary>Longest wait; default <see cref="EdgeCacheClientOptions.DefaultWaitTimeout"/>. At most 1 minute.</summary>
    public TimeSpan? WaitTimeout { get; init; }
}

/// <summary>What <see cref="EdgeCacheClient.WarmAsync"/> or <see cref="EdgeCacheClient.RefreshAsync"/> did.</summary>
public sealed record WarmResult
{
    /// <summary>One outcome per distinct URL, in the order sent.</summary>
    public IReadOnlyList<WarmedUrl> Urls { get; init; } = [];

    /// <summary>A refresh's purge of older copies (with its acknowledgements when waited for); null for warming,
    /// or when no URL's new copy could be fetched.</summary>
    public PurgeResult? Purge { get; init; }

    /// <summary>True when every URL was warmed (and, for a waited refresh, its purge is complete).</summary>
    public bool AllWarmed => Urls.All(u => u.Warmed) && (Purge is not { Waited: true } p || p.Complete);
}

/// <summary>One URL: warmed (the owning shield holds it; <see cref="Cache"/> is <c>stored</c>, <c>hit</c> or
/// <c>collapsed</c>), or not, with the status the CDN answered and the reason.</summary>
public sealed record WarmedUrl(Uri Url, bool Warmed, int? Status, string? Cache, string? Reason)
{
    /// <summary>With <see cref="WarmOptions.Edges"/>: each live edge's outcome.</summary>
    public IReadOnlyList<EdgeWarmOutcome> Edges { get; init; } = [];
}

/// <summary>One edge's outcome for one URL.</summary>
public sealed record EdgeWarmOutcome(string Node, bool Warmed, int? Status, string? Reason);
