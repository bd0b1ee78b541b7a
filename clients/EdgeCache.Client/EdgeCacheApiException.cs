using System.Net;

namespace EdgeCache.Client;

/// <summary>
/// The purge API refused a call (after any retries): its status and the problem it described. The
/// message is the API's title and detail; it never holds the key. Subtypes for the errors a caller
/// handles differently: 401, 403, 413, 422 (idempotency key reused) and 429.
/// </summary>
public class EdgeCacheApiException : Exception
{
    public EdgeCacheApiException(HttpStatusCode statusCode, EdgeCacheProblem? problem)
        : base(Describe(statusCode, problem))
    {
        StatusCode = statusCode;
        Problem = problem;
    }

    public EdgeCacheApiException()
        : this(0, null)
    {
    }

    public EdgeCacheApiException(string message)
        : base(message)
    {
    }

    public EdgeCacheApiException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The HTTP status the API answered.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>The parsed <c>application/problem+json</c> body, or null when the answer had none
    /// (a proxy in front of the API, say).</summary>
    public EdgeCacheProblem? Problem { get; }

    private static string Describe(HttpStatusCode status, EdgeCacheProblem? problem)
    {
        var code = (int)status;
        return problem is null
            ? $"The EdgeCache purge API answered {code} without a problem description."
            : $"The EdgeCache purge API answered {code} {problem.Title}: {problem.Detail}";
    }
}
