using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeCache.Nats;

/// <summary>A node's membership entry: who it is and how far it has applied the stream.</summary>
public sealed record NodeInfo
{
    public required string Node { get; init; }

    /// <summary>edge or shield.</summary>
    public required string Role { get; init; }

    public ulong AppliedSeq { get; init; }

    /// <summary>The node's traffic URL (edges use shields' entries to discover them).</summary>
    public string? Traffic { get; init; }

    public string? Admin { get; init; }

    public DateTimeOffset AnnouncedAt { get; init; }
}

/// <summary>A node's acknowledgement that it applied an event.</summary>
public sealed record NodeAck
{
    public required string Node { get; init; }

    public ulong Seq { get; init; }

    public string? Id { get; init; }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(NodeInfo))]
[JsonSerializable(typeof(NodeAck))]
internal sealed partial class NatsJsonContext : JsonSerializerContext
{
    public static byte[] Encode(NodeInfo info) => JsonSerializer.SerializeToUtf8Bytes(info, Default.NodeInfo);

    public static byte[] Encode(NodeAck ack) => JsonSerializer.SerializeToUtf8Bytes(ack, Default.NodeAck);

    public static T? Decode<T>(byte[]? data, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : class
    {
        if (data is null || data.Length == 0) return null;
        try
        {
            return JsonSerializer.Deserialize(data, type);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
