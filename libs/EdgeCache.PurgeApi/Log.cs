using Microsoft.Extensions.Logging;

namespace EdgeCache.PurgeApi;

/// <summary>Source-generated log messages. Event ids 3000–3999 belong to this project. Keys (the
/// secrets) are never logged; key ids are.</summary>
internal static partial class Log
{
    [LoggerMessage(EventIds.Accepted, LogLevel.Information, "AUDIT {Kind} {Id} accepted: key {KeyId}, {Count} selector(s): {Selectors}; soft={Soft}; sequence {Sequence}.")]
    public static partial void Accepted(ILogger logger, string kind, string id, string keyId, int count, string selectors, bool soft, ulong sequence);

    [LoggerMessage(EventIds.Refused, LogLevel.Warning, "Refused a request: {Status} {Title} (key {KeyId}).")]
    public static partial void Refused(ILogger logger, int status, string title, string keyId);

    [LoggerMessage(EventIds.MembershipUnknown, LogLevel.Warning, "Purge {Id} (sequence {Sequence}) was published, but membership could not be read, so which nodes must apply it is unknown; it is reported incomplete.")]
    public static partial void MembershipUnknown(ILogger logger, string id, ulong sequence);

    [LoggerMessage(EventIds.NatsUnavailable, LogLevel.Warning, "NATS is unavailable ({Message}); retrying.")]
    public static partial void NatsUnavailable(ILogger logger, string message);

    [LoggerMessage(EventIds.Listening, LogLevel.Information, "Purge API listening on {Address}; {Keys} key(s) configured.")]
    public static partial void Listening(ILogger logger, string address, int keys);

    [LoggerMessage(EventIds.KeysReloaded, LogLevel.Information, "Purge keys reloaded; in force: {KeyIds}.")]
    public static partial void KeysReloaded(ILogger logger, string keyIds);

    [LoggerMessage(EventIds.KeysRefused, LogLevel.Error, "Purge key change refused, the keys in force stay: {Reason}")]
    public static partial void KeysRefused(ILogger logger, string reason);

    [LoggerMessage(EventIds.AuthFailuresLimited, LogLevel.Warning, "{Address} failed to authenticate {Burst} times; it is refused (429) until its failures fall below {PerMinute} per minute.")]
    public static partial void AuthFailuresLimited(ILogger logger, string address, int burst, int perMinute);

    [LoggerMessage(EventIds.Replayed, LogLevel.Information, "AUDIT {Kind} {Id} replayed: key {KeyId} repeated an Idempotency-Key; no new event.")]
    public static partial void Replayed(ILogger logger, string kind, string id, string keyId);

    [LoggerMessage(EventIds.FeedInterrupted, LogLevel.Warning, "The event feed lost the invalidation stream ({Message}); it reads it again, and polls get 503 once its lease ends.")]
    public static partial void FeedInterrupted(ILogger logger, string message);

    [LoggerMessage(EventIds.FeedReset, LogLevel.Information, "Instance {Instance} (key {KeyId}) polled after {After}, which the feed no longer holds; told to reset at {Last}.")]
    public static partial void FeedReset(ILogger logger, string instance, string keyId, ulong after, ulong last);

    [LoggerMessage(EventIds.InstanceLeft, LogLevel.Information, "Instance {Instance} (key {KeyId}) left (was registered: {Registered}).")]
    public static partial void InstanceLeft(ILogger logger, string instance, string keyId, bool registered);
}
