using System.Collections.Concurrent;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging;

namespace EdgeCache.PurgeApi;

/// <summary>
/// Limits failed authentications per TCP peer address (never per a forwarding field, which the
/// client writes): each failure takes a token; an address without tokens is answered 429 with
/// Retry-After for everything, a valid key included, until it has some again, so guessing keys is
/// slow. Other addresses are never affected. Keys are never logged, only a summary per address.
/// </summary>
internal sealed class AuthFailureLimiter(PurgeApiOptions options, ILogger logger)
{
    /// <summary>Addresses tracked at once; past it, addresses whose buckets are full again are forgotten.</summary>
    private const int MaxTracked = 10_000;

    private readonly ConcurrentDictionary<IPAddress, TokenBucketRateLimiter> _buckets = new();

    /// <summary>Seconds a limited address should wait for its next attempt.</summary>
    public int RetryAfterSeconds => (int)Math.Ceiling(60.0 / options.AuthFailuresPerMinute);

    /// <summary>True when <paramref name="peer"/> has used up its failures: refuse it without looking at its key.</summary>
    public bool IsLimited(IPAddress? peer) =>
        peer is not null && _buckets.TryGetValue(Normalize(peer), out var bucket) && bucket.GetStatistics()?.CurrentAvailablePermits <= 0;

    /// <summary>Counts one failed authentication; true when the address is now over its limit.</summary>
    public bool RecordFailure(IPAddress? peer)
    {
        if (peer is null) return false;
        peer = Normalize(peer);
        if (_buckets.Count >= MaxTracked) Forget();
        var bucket = _buckets.GetOrAdd(peer, _ => new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = options.AuthFailureBurst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromMinutes(1.0 / options.AuthFailuresPerMinute),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
        using var lease = bucket.AttemptAcquire();
        var limited = !lease.IsAcquired || bucket.GetStatistics()?.CurrentAvailablePermits <= 0;
        if (limited && lease.IsAcquired)
        {
            // Logged once, when the address reaches its limit.
            Log.AuthFailuresLimited(logger, peer.ToString(), options.AuthFailureBurst, options.AuthFailuresPerMinute);
        }

        return limited;
    }

    private void Forget()
    {
        foreach (var (address, bucket) in _buckets)
        {
            if (bucket.GetStatistics()?.CurrentAvailablePermits >= options.AuthFailureBurst && _buckets.TryRemove(address, out var removed)) removed.Dispose();
        }
    }

    private static IPAddress Normalize(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
}
