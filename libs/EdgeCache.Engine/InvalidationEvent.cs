using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeCache.Engine;

/// <summary>What an invalidation event does to the objects it selects.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<InvalidationKind>))]
public enum InvalidationKind
{
    /// <summary>Remove (hard) or mark stale (soft).</summary>
    Purge,

    /// <summary>Set a new remaining freshness lifetime.</summary>
    Ttl,
}

/// <summary>
/// One purge or TTL change, as the purge API publishes it on the invalidation stream and every
/// node applies it. Its stream sequence is assigned by JetStream and travels beside it. Applying
/// an event twice has the effect of applying it once.
/// </summary>
public sealed record InvalidationEvent
{
    /// <summary>The purge id the API answered with.</summary>
    public required string Id { get; init; }

    public InvalidationKind Kind { get; init; }

    /// <summary>Absolute URLs: every Vary variant of each.</summary>
    public string[] Urls { get; init; } = [];

    /// <summary>Absolute URL prefixes.</summary>
    public string[] Prefixes { get; init; } = [];

    /// <summary>Surrogate keys (Surrogate-Key / Cache-Tag), within <see cref="Scope"/>.</summary>
    public string[] Tags { get; init; } = [];

    /// <summary>Everything stored for these host names.</summary>
    public string[] Hosts { get; init; } = [];

    /// <summary>Everything, for every host (only a key scoped to every host may send it; the API turns
    /// "all" from a scoped key into <see cref="Hosts"/>).</summary>
    public bool All { get; init; }

    /// <summary>The host names the issuing key may touch; null means every host. Tag selectors apply only within it.</summary>
    public string[]? Scope { get; init; }

    /// <summary>Mark stale instead of removing.</summary>
    public bool Soft { get; init; }

    /// <summary>For <see cref="InvalidationKind.Ttl"/>: the new remaining freshness lifetime, in seconds.</summary>
    public long? MaxAge { get; init; }

    /// <summary>A refresh (<c>POST /warm</c> with <c>refresh</c>): the purge of <see cref="Urls"/> spares copies
    /// whose <see cref="HeaderRules.CopyId"/> is this id, the new copy the refresh stored on the owning shield
    /// first. Null for every other event. A node that does not know the field purges those copies too (a miss, never a stale page).</summary>
    public string? KeepCopy { get; init; }

    /// <summary>The API's clock when it accepted the event (shown, never compared across machines).</summary>
    public DateTimeOffset IssuedAt { get; init; }

    /// <summary>The id (not the secret) of the key that issued it, for the audit trail.</summary>
    public string KeyId { get; init; } = "";

    public int SelectorCount => Urls.Length + Prefixes.Length + Tags.Length + Hosts.Length + (All ? 1 : 0);

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(this, InvalidationJsonContext.Default.InvalidationEvent);

    /// <summary>Reads an event; null when the bytes are not one (logged and skipped by the caller).</summary>
    public static InvalidationEvent? Deserialize(ReadOnlySpan<byte> utf8)
    {
        try
        {
            return JsonSerializer.Deserialize(utf8, InvalidationJsonContext.Default.InvalidationEvent);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(InvalidationEvent))]
[JsonSerializable(typeof(InvalidationRules.Snapshot))]
internal sealed partial class InvalidationJsonContext : JsonSerializerContext;
