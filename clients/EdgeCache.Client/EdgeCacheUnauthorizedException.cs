using System.Net;

namespace EdgeCache.Client;

/// <summary>401: the key is missing or unknown to the API (a typo, or a key rotated out). Not retried.</summary>
public sealed class EdgeCacheUnauthorizedException : EdgeCacheApiException
{
    public EdgeCacheUnauthorizedException(EdgeCacheProblem? problem)
        : base(HttpStatusCode.Unauthorized, problem)
    {
    }

    public EdgeCacheUnauthorizedException()
        : this((EdgeCacheProblem?)null)
    {
    }

    public EdgeCacheUnauthorizedException(string message)
        : base(message)
    {
    }

    public EdgeCacheUnauthorizedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
