using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeCache.Client.Internal;

/// <summary>The body of <c>POST /warm</c> as the API reads it (absent fields omitted).</summary>
internal sealed class WireWarmRequest
{
    public IReadOnlyList<string>? Urls { get; init; }
    public bool? Edges { get; init; }
    public bool? Refresh { get; init; }
    public bool? Wait { get; init; }
    public long? TimeoutMs { get; init; }
}

internal sealed class WireWarmResponse
{
    public WireWarmUrl[]? Results { get; init; }
    public WireStatus? Purge { get; init; }
    public WireStatus? PurgeAccepted { get; init; }
}

internal sealed class WireWarmUrl
{
    public string Url { get; init; } = "";
    public string Outcome { get; init; } = "";
    public int? Status { get; init; }
    public string? Cache { get; init; }
    public string? Reason { get; init; }
    public WireWarmEdge[]? Edges { get; init; }
}

internal sealed class WireWarmEdge
{
    public string Node { get; init; } = "";
    public string Outcome { get; init; } = "";
    public int? Status { get; init; }
    public string? Reason { get; init; }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WireWarmRequest))]
[JsonSerializable(typeof(WireWarmResponse))]
internal sealed partial class WarmWireJsonContext : JsonSerializerContext;
