using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeCache.Client.Internal;

/// <summary>One answer of the purge API's <c>GET /events</c>.</summary>
internal sealed class FeedPage
{
    public bool Reset { get; init; }
    public ulong Last { get; init; }
    public long? InstanceLeaseMs { get; init; }
    public FeedEvent[] Events { get; init; } = [];
}

/// <summary>One event of the feed, within the key's hosts.</summary>
internal sealed class FeedEvent
{
    public ulong Sequence { get; init; }
    public string Id { get; init; } = "";
    public string Kind { get; init; } = "purge";
    public string[] Urls { get; init; } = [];
    public string[] Prefixes { get; init; } = [];
    public string[] Tags { get; init; } = [];
    public string[] Hosts { get; init; } = [];
    public bool All { get; init; }
    public bool Soft { get; init; }
    public long? MaxAge { get; init; }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(FeedPage))]
internal sealed partial class FeedJsonContext : JsonSerializerContext;
