using System.Net;

namespace EdgeCache.Client;

/// <summary>429: the key is over its rate (or this address sent too many wrong keys), and the retries
/// did not outlast it. <see cref="RetryAfter"/> is when the API said to try again.</summary>
public sealed class EdgeCacheRateLimitedException : EdgeCacheApiException
{
    public EdgeCacheRateLimitedException(EdgeCacheProblem? problem, TimeSpan? retryAfter)
        : base(HttpStatusCode.TooManyRequests, problem)
    {
        RetryAfter = retryAfter;
    }

    public EdgeCacheRateLimitedException()
        : this(null, (TimeSpan?)null)
    {
    }

    public EdgeCacheRateLimitedException(string message)
        : base(message)
    {
    }

    public EdgeCacheRateLimitedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The API's <c>Retry-After</c>, when it sent one.</summary>
    public TimeSpan? RetryAfter { get; }
}
