namespace EdgeCache.Client;

/// <summary>
/// The client's settings (section <c>EdgeCacheClient</c> by default), validated at start-up: a bad
/// setting stops the application with a message naming it. The key is never part of a message.
/// </summary>
public sealed class EdgeCacheClientOptions
{
    public const string SectionName = "EdgeCacheClient";

    /// <summary>The purge API's address, e.g. <c>https://purge.cdn.example.com/</c>. Required.</summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>The purge key, sent as <c>Authorization: Bearer</c>. Required. Keep it in a secret store,
    /// not in appsettings.json.</summary>
    public string ApiKey { get; set; } = "";

    /// <summary>Longest one attempt may take, not counting a purge's wait (the call's wait timeout is
    /// added to it). An attempt that takes longer is abandoned and retried. Default 10 s.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest a whole call may take, every retry included (plus the call's wait timeout).
    /// Default 1 min.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Retries after a transient failure (connection failure, attempt timeout, 408, 409, 429,
    /// 5xx); 0 turns retries off. Default 3.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>The first retry's delay, doubled for each further one, with jitter; a <c>Retry-After</c>
    /// from the API is honoured instead. Default 1 s.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a call with <see cref="EdgeCacheCallOptions.Wait"/> and no
    /// <see cref="EdgeCacheCallOptions.WaitTimeout"/> waits for the nodes. Default 5 s (the API's default).</summary>
    public TimeSpan DefaultWaitTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Every problem with these settings, each naming the setting under <paramref name="section"/>.</summary>
    public IEnumerable<string> Validate(string section = SectionName)
    {
        var s = section;
        if (BaseAddress is null) yield return $"{s}:BaseAddress is required (the purge API's address, e.g. https://purge.cdn.example.com/).";
        else if (!BaseAddress.IsAbsoluteUri || BaseAddress.Scheme is not ("http" or "https")) yield return $"{s}:BaseAddress '{BaseAddress}' is not an absolute http:// or https:// URL.";
        if (string.IsNullOrWhiteSpace(ApiKey)) yield return $"{s}:ApiKey is required (the purge key the API was given the SHA-256 of).";
        else if (ApiKey.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c > '~')) yield return $"{s}:ApiKey must be visible ASCII without spaces (the value is not shown).";
        if (AttemptTimeout <= TimeSpan.Zero) yield return $"{s}:AttemptTimeout must be positive.";
        if (Timeout < AttemptTimeout) yield return $"{s}:Timeout must be at least AttemptTimeout ({AttemptTimeout}).";
        if (MaxRetries is < 0 or > 10) yield return $"{s}:MaxRetries must be between 0 and 10.";
        if (RetryDelay < TimeSpan.Zero || RetryDelay > TimeSpan.FromMinutes(1)) yield return $"{s}:RetryDelay must be between 0 and 1 minute.";
        if (DefaultWaitTimeout <= TimeSpan.Zero || DefaultWaitTimeout > TimeSpan.FromMinutes(1)) yield return $"{s}:DefaultWaitTimeout must be positive and at most 1 minute (the API's largest timeoutMs by default).";
    }
}
