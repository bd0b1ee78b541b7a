using System.Text.Json;

namespace EdgeCache.Client;

/// <summary>An RFC 9457 <c>application/problem+json</c> body, as the purge API sends with every error.</summary>
public sealed class EdgeCacheProblem
{
    public string? Type { get; init; }
    public string? Title { get; init; }
    public int? Status { get; init; }
    public string? Detail { get; init; }
    public string? Instance { get; init; }

    /// <summary>Members beyond the standard ones (ASP.NET Core adds <c>traceId</c>).</summary>
    public IReadOnlyDictionary<string, JsonElement> Extensions { get; init; } = new Dictionary<string, JsonElement>();
}
