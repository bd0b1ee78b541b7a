namespace EdgeCache.Proxy;

/// <summary>The tier a node plays. Both run the same engine; only the upstream differs.</summary>
public enum NodeRole
{
    /// <summary>Client-facing; misses go to the shield chosen by consistent hashing.</summary>
    Edge,

    /// <summary>Origin shield; misses go to the origin chosen by the request's Host.</summary>
    Shield,
}
