namespace EdgeCache.Client;

/// <summary>
/// The HybridCache backplane's settings (section <c>EdgeCacheInvalidation</c> by default), validated
/// at start-up. The purge API's address and key are <see cref="EdgeCacheClientOptions"/>'s: register
/// <c>AddEdgeCacheClient</c> too.
/// </summary>
public sealed class EdgeCacheInvalidationOptions
{
    public const string SectionName = "EdgeCacheInvalidation";

    /// <summary>This application instance's id, the same on every poll (1 to 128 letters, digits, '.',
    /// '_', ':' or '-'). Default the machine name and a random suffix, new per process.</summary>
    public string InstanceId { get; set; } = DefaultInstanceId();

    /// <summary>How long one poll of <c>GET /events</c> waits for an event; must be below <see cref="Lease"/>
    /// and at most the API's <c>PurgeApi:Feed:MaxPollTimeout</c> (30 s by default). Default 4 s.</summary>
    public TimeSpan PollTimeout { get; set; } = TimeSpan.FromSeconds(4);

    /// <summary>How long this instance trusts its L1 (memory) entries after its last confirmed poll:
    /// a poll confirms from the moment it was sent. Past it, reads and writes bypass L1 until a poll
    /// succeeds again, after applying every event missed (the nodes' lease, for an application). Must
    /// exceed <see cref="PollTimeout"/>. The API's <c>PurgeApi:Feed:InstanceLease</c>, which each poll's
    /// answer carries, is used instead when it is shorter. Default 10 s.</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The wait after a failed poll, doubled for each further failure up to <see cref="MaxRetryDelay"/>. Default 1 s.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between failed polls. Default 15 s.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The HybridCache keys a purged URL maps to, beyond the convention (every entry tagged
    /// <see cref="EdgeCacheInvalidation.UrlTag(string)"/> of it is removed). Not bound from configuration.</summary>
    public Func<Uri, IEnumerable<string>>? KeysForUrl { get; set; }

    /// <summary>Every problem with these settings, each naming the setting under <paramref name="section"/>.</summary>
    public IEnumerable<string> Validate(string section = SectionName)
    {
        var s = section;
        if (string.IsNullOrEmpty(InstanceId) || InstanceId.Length > 128 || !InstanceId.All(IsIdChar)) yield return $"{s}:InstanceId must be 1 to 128 letters, digits, '.', '_', ':' or '-'.";
        if (PollTimeout <= TimeSpan.Zero || PollTimeout > TimeSpan.FromMinutes(5)) yield return $"{s}:PollTimeout must be positive and at most 5 minutes.";
        if (Lease <= PollTimeout) yield return $"{s}:Lease must be longer than PollTimeout ({PollTimeout}): a poll confirms from when it was sent.";
        if (RetryDelay <= TimeSpan.Zero) yield return $"{s}:RetryDelay must be positive.";
        if (MaxRetryDelay < RetryDelay) yield return $"{s}:MaxRetryDelay must be at least RetryDelay ({RetryDelay}).";
    }

    internal static bool IsIdChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-';

    private static string DefaultInstanceId()
    {
        var machine = new string([.. Environment.MachineName.Where(IsIdChar).Take(100)]);
        return (machine.Length > 0 ? machine : "app") + "-" + Guid.NewGuid().ToString("N")[..12];
    }
}
