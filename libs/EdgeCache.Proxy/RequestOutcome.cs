namespace EdgeCache.Proxy;

/// <summary>What became of a request, as <c>edgecache.requests</c> counts it (tag <c>edgecache.outcome</c>).</summary>
public enum RequestOutcome
{
    /// <summary>Answered from a stored copy that was fresh enough.</summary>
    Hit,

    /// <summary>Answered from a stale copy (max-stale, stale-while-revalidate, stale-if-error).</summary>
    Stale,

    /// <summary>Fetched upstream (and stored when allowed).</summary>
    Miss,

    /// <summary>A stored copy revalidated upstream (304).</summary>
    Revalidated,

    /// <summary>Passed through without storing (unsafe methods, bypasses, responses never worth storing).</summary>
    Pass,

    /// <summary>Answered with this node's own error.</summary>
    Error,
}
