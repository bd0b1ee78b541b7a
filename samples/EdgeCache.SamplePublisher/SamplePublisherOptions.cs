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

    public IEnumerable<string> Validate()
    {
        const string S = SectionName;
        if (!Uri.TryCreate(Listen, UriKind.Absolute, out var l) || l.Scheme != "http") yield return $"{S}:Listen '{Listen}' is not an http:// URL.";
        if (string.IsNullOrWhiteSpace(Database)) yield return $"{S}:Database is required.";
        if (PageMaxAge <= TimeSpan.Zero) yield return $"{S}:PageMaxAge must be positive.";
        if (LookupExpiration <= TimeSpan.Zero) yield return $"{S}:LookupExpiration must be positive.";
    }
}
