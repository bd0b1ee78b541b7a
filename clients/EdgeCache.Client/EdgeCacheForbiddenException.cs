using System.Net;

namespace EdgeCache.Client;

/// <summary>403: a selector names a host outside the key's scope (the API names it in the problem's detail). Not retried.</summary>
public sealed class EdgeCacheForbiddenException : EdgeCacheApiException
{
    public EdgeCacheForbiddenException(EdgeCacheProblem? problem)
        : base(HttpStatusCode.Forbidden, problem)
    {
    }

    public EdgeCacheForbiddenException()
        : this((EdgeCacheProblem?)null)
    {
    }

    public EdgeCacheForbiddenException(string message)
        : base(message)
    {
    }

    public EdgeCacheForbiddenException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
