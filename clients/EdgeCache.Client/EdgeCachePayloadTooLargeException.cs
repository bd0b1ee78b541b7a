using System.Net;

namespace EdgeCache.Client;

/// <summary>413: the request is larger than the API's MaxBodyBytes; split the selectors over several calls. Not retried.</summary>
public sealed class EdgeCachePayloadTooLargeException : EdgeCacheApiException
{
    public EdgeCachePayloadTooLargeException(EdgeCacheProblem? problem)
        : base(HttpStatusCode.RequestEntityTooLarge, problem)
    {
    }

    public EdgeCachePayloadTooLargeException()
        : this((EdgeCacheProblem?)null)
    {
    }

    public EdgeCachePayloadTooLargeException(string message)
        : base(message)
    {
    }

    public EdgeCachePayloadTooLargeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
