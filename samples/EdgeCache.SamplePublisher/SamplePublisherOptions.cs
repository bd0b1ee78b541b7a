namespace EdgeCache.SamplePublisher;

/// <summary>The sample's settings (section <c>SamplePublisher</c>); the purge API's are <c>EdgeCacheClient</c>.</summary>
public sealed class SamplePublisherOptions
{
    public const string SectionName = "SamplePublisher";

    /// <summary>Where the app listens. Default <c>http://127.0.0.1:8060</c> (the local CDN's shields route
    /// <c>shop.example.com</c> there when up.sh starts the sample).</summary>
    public string Listen { get; set; } = "http://127.0.0.1:8060";

    /// <summary>The SQLite file. Default <c>catalogue.db</c> in the working directory; created and seeded with
    /// three products when missing.</summary>
    public string Database { get; set; } = "catalogue.db";

    /// <summary>How long the CDN keeps a page (<c>Cache-Control: public, max-age</c>). Default 300 s.</summary>
    public TimeSpan PageMaxAge { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>How long this instance's HybridCache keeps a product. Default 5 min.</summary>
    public TimeSpan LookupExpiration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>HybridCache's L2, shared by every instance: a Redis-protocol endpoint (StackExchange.Redis
    /// configuration, e.g. <c>127.0.0.1:6380</c>; up.sh starts Garnet there, <c>samples/EdgeCache.SampleL2</c>).
    /// Empty (the default): L1 only.</summary>
    public string L2 { get; set; } = "";

    /// <summary>HybridCache's backplane: follow the purge API's event feed
    /// (<c>AddEdgeCacheInvalidation</c>, section <c>EdgeCacheInvalidation</c>), so a purge by any instance, or by
    /// anyone holding this key, clears every instance's L1. Default on. Off: an update clears only its own
    /// instance's HybridCache (and the L2) before purging the CDN.</summary>
    public bool Backplane { get; set; } = true;

    /// <summary>The key prefix of this app's entries in the L2. Default <c>sample-publisher:</c>.</summary>
    public string L2InstanceName { get; set; } = "sample-publisher:";

    public IEnumerable<string> Validate()
    {
        const string S = SectionName;
        if (!Uri.TryCreate(Listen, UriKind.Absolute, out var l) || l.Scheme != "http") yield return $"{S}:Listen '{Listen}' is not an http:// URL.";
        if (string.IsNullOrWhiteSpace(Database)) yield return $"{S}:Database is required.";
        if (PageMaxAge <= TimeSpan.Zero) yield return $"{S}:PageMaxAge must be positive.";
        if (LookupExpiration <= TimeSpan.Zero) yield return $"{S}:LookupExpiration must be positive.";
        if (L2.Length > 0 && (string.IsNullOrWhiteSpace(L2) || L2.Any(char.IsControl))) yield return $"{S}:L2 '{L2}' is not a Redis endpoint such as 127.0.0.1:6380.";
    }
}
