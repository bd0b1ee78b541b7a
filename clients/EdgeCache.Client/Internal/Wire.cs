using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeCache.Client.Internal;

/// <summary>The body of <c>POST /purge</c> and <c>POST /ttl</c> as the API reads it (absent fields omitted).</summary>
internal sealed class WireRequest
{
    public IReadOnlyList<string>? Urls { get; init; }
    public IReadOnlyList<string>? Prefixes { get; init; }
    public IReadOnlyList<string>? Tags { get; init; }
    public IReadOnlyList<string>? Hosts { get; init; }
    public bool? All { get; init; }
    public bool? Soft { get; init; }
    public bool? Wait { get; init; }
    public long? TimeoutMs { get; init; }
    public long? MaxAge { get; init; }
}

/// <summary>202's <c>{id, sequence}</c> and 200's <c>{id, sequence, complete, acked, missing}</c>.</summary>
internal sealed class WireStatus
{
    public string Id { get; init; } = "";
    public ulong Sequence { get; init; }
    public bool? Complete { get; init; }
    public WireAck[]? Acked { get; init; }
    public string[]? Missing { get; init; }
    public WireInstances? Instances { get; init; }
}

/// <summary>The purging key's application instances (the backplane), in a waited answer.</summary>
internal sealed class WireInstances
{
    public WireInstanceAck[]? Acked { get; init; }
    public string[]? Missing { get; init; }
    public string[]? Left { get; init; }
}

internal sealed class WireInstanceAck
{
    public string Instance { get; init; } = "";
    public double Ms { get; init; }
}

internal sealed class WireAck
{
    public string Node { get; init; } = "";
    public double Ms { get; init; }
}

internal sealed class WireProblem
{
    public string? Type { get; init; }
    public string? Title { get; init; }
    public int? Status { get; init; }
    public string? Detail { get; init; }
    public string? Instance { get; init; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extensions { get; set; }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WireRequest))]
[JsonSerializable(typeof(WireStatus))]
[JsonSerializable(typeof(WireProblem))]
internal sealed partial class WireJsonContext : JsonSerializerContext;
