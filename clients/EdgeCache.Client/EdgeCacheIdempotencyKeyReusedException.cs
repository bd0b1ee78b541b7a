using System.Net;

namespace EdgeCache.Client;

/// <summary>422: the call's Idempotency-Key was used, within the API's window, for a different request. Use a new key per distinct purge.</summary>
public sealed class EdgeCacheIdempotencyKeyReusedException : EdgeCacheApiException
{
    public EdgeCacheIdempotencyKeyReusedException(EdgeCacheProblem? problem)
        : base(HttpStatusCode.UnprocessableEntity, problem)
    {
    }

    public EdgeCacheIdempotencyKeyReusedException()
        : this((EdgeCacheProblem?)null)
    {
    }

    public EdgeCacheIdempotencyKeyReusedException(string message)
        : base(message)
    {
    }

    public EdgeCacheIdempotencyKeyReusedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
