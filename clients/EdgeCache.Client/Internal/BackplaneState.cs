using Microsoft.Extensions.Options;

namespace EdgeCache.Client.Internal;

/// <summary>
/// The one owner of this instance's place in the feed: the last sequence whose events it applied (its
/// cursor, sent as the next poll's <c>after</c>, which is its acknowledgement) and when it last
/// confirmed that it had applied everything (the sending time of its last successful poll). L1 is
/// trusted while that confirmation is younger than <see cref="Lease"/>: the configured lease, or the
/// API's instance lease when that is shorter (a purge stops waiting for an instance that long after
/// its last poll, so the instance must have stopped trusting L1 by then).
/// </summary>
internal sealed class BackplaneState(IOptions<EdgeCacheInvalidationOptions> options, TimeProvider time)
{
    private readonly Lock _gate = new();
    private ulong? _cursor;
    private long? _confirmedAt;
    private TimeSpan? _apiLease;

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
            return at is { } t && time.GetElapsedTime(t) < Lease;
        }
    }

    /// <summary>The lease in force: <see cref="EdgeCacheInvalidationOptions.Lease"/>, or the API's shorter instance lease.</summary>
    public TimeSpan Lease
    {
        get
        {
            TimeSpan? api;
            lock (_gate) api = _apiLease;
            var own = options.Value.Lease;
            return api is { } a && a < own ? a : own;
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
    public bool Confirm(ulong last, long sentAt, TimeSpan? apiLease = null)
    {
        var was = IsConfirmed;
        lock (_gate)
        {
            _cursor = last;
            if (apiLease is { } l && l > TimeSpan.Zero) _apiLease = l;
            if (_confirmedAt is not { } c || sentAt > c) _confirmedAt = sentAt;
        }

        return !was;
    }
}
