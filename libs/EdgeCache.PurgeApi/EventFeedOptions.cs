namespace EdgeCache.PurgeApi;

/// <summary>The event feed for publishers' application instances (section <c>PurgeApi:Feed</c>): how
/// much of the stream the API keeps in memory, how long a poll may wait, and how long an instance
/// stays registered without polling.</summary>
public sealed class EventFeedOptions
{
    /// <summary>Most recent events kept in memory for <c>GET /events</c> (the oldest dropped first); an
    /// instance further behind is answered <c>reset</c> (drop everything). Default 10,000.</summary>
    public int BufferEvents { get; set; } = 10_000;

    /// <summary>Most events in one answer; the rest come with the next poll. Default 500.</summary>
    public int MaxEventsPerPoll { get; set; } = 500;

    /// <summary>How long a poll waits for an event when it gives no <c>timeoutMs</c>. Default 4 s.</summary>
    public TimeSpan DefaultPollTimeout { get; set; } = TimeSpan.FromSeconds(4);

    /// <summary>Longest <c>timeoutMs</c> a poll may ask for. Default 30 s.</summary>
    public TimeSpan MaxPollTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an instance stays registered after its last poll ended: while it is, a purge
    /// with <c>wait</c> from the same key waits for it; past it, it drops out (and is listed under
    /// <c>instances.left</c>). An instance with a poll open is always registered. Each answer tells
    /// instances this lease, and they stop trusting their L1 within it of their last confirmed poll, so
    /// an instance that drops out no longer serves what it cached. Longer than <see cref="DefaultPollTimeout"/>
    /// (the .NET client polls for at most half of it). Default 10 s.</summary>
    public TimeSpan InstanceLease { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Most instances registered under one key at once; a further one gets 429. Default 1000.</summary>
    public int MaxInstancesPerKey { get; set; } = 1000;

    /// <summary>How often the API checks that its copy of the stream is caught up with JetStream. Default 1 s.</summary>
    public TimeSpan ConfirmInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest the API answers polls without having confirmed it is caught up with the stream
    /// (as a node's <c>Lease</c>); past it, polls get 503, so instances stop counting themselves
    /// confirmed instead of trusting a feed that may be missing events. Default 5 s.</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(5);

    public IEnumerable<string> Validate(string section)
    {
        var s = section;
        if (BufferEvents is < 1 or > 10_000_000) yield return $"{s}:BufferEvents must be between 1 and 10000000.";
        if (MaxEventsPerPoll is < 1 or > 100_000) yield return $"{s}:MaxEventsPerPoll must be between 1 and 100000.";
        if (MaxPollTimeout <= TimeSpan.Zero || MaxPollTimeout > TimeSpan.FromMinutes(5)) yield return $"{s}:MaxPollTimeout must be positive and at most 5 minutes.";
        if (DefaultPollTimeout <= TimeSpan.Zero || DefaultPollTimeout > MaxPollTimeout) yield return $"{s}:DefaultPollTimeout must be positive and at most MaxPollTimeout.";
        if (InstanceLease <= DefaultPollTimeout) yield return $"{s}:InstanceLease must be longer than DefaultPollTimeout ({DefaultPollTimeout}).";
        if (MaxInstancesPerKey <= 0) yield return $"{s}:MaxInstancesPerKey must be positive.";
        if (ConfirmInterval <= TimeSpan.Zero) yield return $"{s}:ConfirmInterval must be positive.";
        if (Lease <= ConfirmInterval) yield return $"{s}:Lease must be longer than ConfirmInterval ({ConfirmInterval}).";
    }
}
