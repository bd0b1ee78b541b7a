using Microsoft.Extensions.Options;

namespace EdgeCache.Client.Internal;

/// <summary>
/// The one owner of this instance's place in the feed: the last sequence whose events it applied (its
/// cursor, sent as the next poll's <c>after</c>, which is its acknowledgement) and when it last
/// confirmed that it had applied everything (the sending time of its last successful poll). L1 is
/// trusted while that confirmation is younger than <see cref="EdgeCacheInvalidationOptions.Lease"/>.
/// </summary>
internal sealed class BackplaneState(IOptions<EdgeCacheInvalidationOptions> options, TimeProvider time)
{
    private readonly Lock _gate = new();
    private ulong? _cursor;
    private long? _confirmedAt;

    public TimeProvider Time => time;

    /// <summary>The last sequence applied; null before the first poll.</summary>
    public ulong? Cursor
    {
        get
        {
            lock (_gate) return _cursor;
        }
    }

    /// <summary>True while the last confirmation is within the lease.</summary>
    public bool IsConfirmed
    {
        get
        {
            long? at;
            lock (_gate) at = _confirmedAt;
            return at is { } t && time.GetElapsedTime(t) < options.Value.Lease;
        }
    }

    /// <summary>Every event up to <paramref name="sequence"/> is applied (not yet a confirmation: more may follow).</summary>
    public void Applied(ulong sequence)
    {
        lock (_gate)
        {
            if (_cursor is not { } c || sequence > c) _cursor = sequence;
        }
    }

    /// <summary>A poll sent at <paramref name="sentAt"/> answered and all of it is applied: the cursor is
    /// <paramref name="last"/>. Returns true when L1 was not trusted until now.</summary>
    public bool Confirm(ulong last, long sentAt)
    {
        var was = IsConfirmed;
        lock (_gate)
        {
            _cursor = last;
            if (_confirmedAt is not { } c || sentAt > c) _confirmedAt = sentAt;
        }

        return !was;
    }
}
