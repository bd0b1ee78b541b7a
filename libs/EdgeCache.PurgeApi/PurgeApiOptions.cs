using EdgeCache.Nats;

namespace EdgeCache.PurgeApi;

/// <summary>The purge API's settings (section <c>PurgeApi</c>), validated at start-up.</summary>
public sealed class PurgeApiOptions
{
    public const string SectionName = "PurgeApi";

    /// <summary>Where the API listens. Default <c>http://127.0.0.1:8070</c>.</summary>
    public string Listen { get; set; } = "http://127.0.0.1:8070";

    /// <summary>API keys. Each holds the SHA-256 of the secret (never the secret) and the hosts it may purge.</summary>
    public List<ApiKeyOptions> Keys { get; set; } = [];

    /// <summary>Largest request body accepted; larger gets 413. Default 64 KiB.</summary>
    public int MaxBodyBytes { get; set; } = 64 * 1024;

    /// <summary>Most selectors (URLs + prefixes + tags + hosts) in one request; more gets 400. Default 1000.</summary>
    public int MaxSelectors { get; set; } = 1000;

    /// <summary>Requests each key may make per second, sustained. Default 20.</summary>
    public int RatePerSecond { get; set; } = 20;

    /// <summary>Requests a key may make in a burst above the sustained rate. Default 100.</summary>
    public int RateBurst { get; set; } = 100;

    /// <summary>Failed authentications a TCP peer address may make in a row before it is refused (429). Default 10.</summary>
    public int AuthFailureBurst { get; set; } = 10;

    /// <summary>How fast an address earns back failed attempts, per minute. Default 30.</summary>
    public int AuthFailuresPerMinute { get; set; } = 30;

    /// <summary>How long <c>wait</c> waits when the request gives no <c>timeoutMs</c>. Default 5 s.</summary>
    public TimeSpan DefaultWaitTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest <c>timeoutMs</c> accepted. Default 60 s.</summary>
    public TimeSpan MaxWaitTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>While a purge waits: how often the membership bucket is read for nodes' applied sequences
    /// when the membership watch is not caught up (acknowledgements this process missed). Default 200 ms.</summary>
    public TimeSpan MembershipPollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Purges remembered for <c>GET /purge/{id}</c> (oldest forgotten first). Default 10,000.</summary>
    public int RecordLimit { get; set; } = 10_000;

    /// <summary>How long a request's <c>Idempotency-Key</c> is remembered from its first use: a repeat
    /// within it (same key id, same body) is answered with the first call's purge, not a second event.
    /// Default 24 h, as Stripe's; long enough for a publisher's job to be retried the next morning.</summary>
    public TimeSpan IdempotencyWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Most idempotency keys remembered at once (oldest forgotten first), across all API keys. Default 10,000
    /// (as <see cref="RecordLimit"/>; each holds the first answer, well under a KiB for a few dozen nodes).</summary>
    public int IdempotencyKeyLimit { get; set; } = 10_000;

    /// <summary>Cache warming and refresh (<c>POST /warm</c>).</summary>
    public WarmOptions Warm { get; set; } = new();
    /// <summary>The event feed for publishers' application instances (<c>GET /events</c>).</summary>
    public EventFeedOptions Feed { get; set; } = new();

    /// <summary>The stream, subjects and membership bucket; must match the nodes' <c>EdgeCache:Invalidation</c>.</summary>
    public InvalidationOptions Nats { get; set; } = new() { NatsUrl = "nats://127.0.0.1:4222" };

    public IEnumerable<string> Validate()
    {
        const string S = SectionName;
        if (!Uri.TryCreate(Listen, UriKind.Absolute, out var l) || l.Scheme != "http") yield return $"{S}:Listen '{Listen}' is not an http:// URL.";
        if (Keys.Count == 0) yield return $"{S}:Keys must hold at least one key (see the README: hash a key with 'hash-key').";
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Keys.Count; i++)
        {
            var k = Keys[i];
            if (string.IsNullOrWhiteSpace(k.Id)) yield return $"{S}:Keys:{i}:Id is required.";
            else if (!ids.Add(k.Id)) yield return $"{S}:Keys:{i}:Id '{k.Id}' is used twice.";
            if (k.Sha256 is null || k.Sha256.Length != 64 || !k.Sha256.All(Uri.IsHexDigit)) yield return $"{S}:Keys:{i}:Sha256 must be the 64 hex digits of the key's SHA-256.";
            if (k.RatePerSecond <= 0 || k.RateBurst <= 0) yield return $"{S}:Keys:{i}: RatePerSecond and RateBurst must be positive.";
            if (k.Hosts.Length == 0) yield return $"{S}:Keys:{i}:Hosts must name at least one host (or \"*\" for every host).";
        }

        if (MaxBodyBytes is < 1024 or > 16 * 1024 * 1024) yield return $"{S}:MaxBodyBytes must be between 1024 and 16777216.";
        if (MaxSelectors <= 0) yield return $"{S}:MaxSelectors must be positive.";
        if (RatePerSecond <= 0) yield return $"{S}:RatePerSecond must be positive.";
        if (RateBurst <= 0) yield return $"{S}:RateBurst must be positive.";
        if (AuthFailureBurst <= 0) yield return $"{S}:AuthFailureBurst must be positive.";
        if (AuthFailuresPerMinute is <= 0 or > 60_000) yield return $"{S}:AuthFailuresPerMinute must be between 1 and 60000.";
        if (DefaultWaitTimeout <= TimeSpan.Zero || DefaultWaitTimeout > MaxWaitTimeout) yield return $"{S}:DefaultWaitTimeout must be positive and at most MaxWaitTimeout.";
        if (RecordLimit <= 0) yield return $"{S}:RecordLimit must be positive.";
        if (IdempotencyWindow <= TimeSpan.Zero || IdempotencyWindow > TimeSpan.FromDays(30)) yield return $"{S}:IdempotencyWindow must be positive and at most 30 days.";
        if (IdempotencyKeyLimit <= 0) yield return $"{S}:IdempotencyKeyLimit must be positive.";
        if (MembershipPollInterval <= TimeSpan.Zero) yield return $"{S}:MembershipPollInterval must be positive.";
        foreach (var w in Warm.Validate()) yield return w;
        foreach (var f in Feed.Validate(S + ":Feed")) yield return f;
        if (!Nats.Enabled) yield return $"{S}:Nats:NatsUrl is required.";
        else if (Nats.Validate() is { } n) yield return $"{S}:Nats: {n}.";
    }
}

/// <summary>One API key: its id (shown in audit logs), the SHA-256 of its secret, and its hosts.</summary>
public sealed class ApiKeyOptions
{
    public string Id { get; set; } = "";

    /// <summary>Lower- or upper-case hex SHA-256 of the UTF-8 key.</summary>
    public string Sha256 { get; set; } = "";

    /// <summary>Host names this key may purge; <c>*</c> means every host.</summary>
    public string[] Hosts { get; set; } = [];

    /// <summary>This key's sustained rate, when it differs from <c>PurgeApi:RatePerSecond</c>.</summary>
    public int? RatePerSecond { get; set; }

    /// <summary>This key's burst, when it differs from <c>PurgeApi:RateBurst</c>.</summary>
    public int? RateBurst { get; set; }
}
