namespace EdgeCache.PurgeApi;

/// <summary>Cache warming and refresh (<c>POST /warm</c>), section <c>PurgeApi:Warm</c>, validated at start-up.</summary>
public sealed class WarmOptions
{
    /// <summary>One of the nodes' <c>EdgeCache:TierSecrets</c>: a warming request reaches a shield through an
    /// edge, and both trust its warming fields only beside it. None (the default): <c>/warm</c> answers 503.</summary>
    public string? TierSecret { get; set; }

    /// <summary>Most URLs in one call; more gets 413. Default 100.</summary>
    public int MaxUrls { get; set; } = 100;

    /// <summary>URLs each key may warm per second, sustained (across calls); beyond: 429. Default 10.</summary>
    public int UrlsPerSecond { get; set; } = 10;

    /// <summary>URLs a key may warm in a burst. At least <see cref="MaxUrls"/>. Default 200.</summary>
    public int UrlBurst { get; set; } = 200;

    /// <summary>URLs of one call fetched at once. Default 8.</summary>
    public int Concurrency { get; set; } = 8;

    /// <summary>Longest one URL's fetch may take through an edge, body included. Default 30 s.</summary>
    public TimeSpan FetchTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public IEnumerable<string> Validate()
    {
        const string S = PurgeApiOptions.SectionName + ":Warm";
        if (TierSecret is { } t && (t.Length < 16 || t.Any(c => c is <= ' ' or > '~'))) yield return $"{S}:TierSecret must be at least 16 visible ASCII characters, without spaces (one of the nodes' EdgeCache:TierSecrets).";
        if (MaxUrls is <= 0 or > 10_000) yield return $"{S}:MaxUrls must be between 1 and 10000.";
        if (UrlsPerSecond <= 0) yield return $"{S}:UrlsPerSecond must be positive.";
        if (UrlBurst < MaxUrls) yield return $"{S}:UrlBurst must be at least MaxUrls ({MaxUrls}), or a full call could never be accepted.";
        if (Concurrency is <= 0 or > 256) yield return $"{S}:Concurrency must be between 1 and 256.";
        if (FetchTimeout <= TimeSpan.Zero || FetchTimeout > TimeSpan.FromMinutes(10)) yield return $"{S}:FetchTimeout must be positive and at most 10 minutes.";
    }
}
