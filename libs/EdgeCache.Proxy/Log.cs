using Microsoft.Extensions.Logging;

namespace EdgeCache.Proxy;

/// <summary>Source-generated log messages. Event ids 1000–1999 belong to this project.
/// Cache keys and query strings are logged only at Debug.</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Warning, "Upstream {Destination} failed ({Error}) for a {Method} request; it is marked unhealthy for {Reactivation}.")]
    public static partial void UpstreamFailed(ILogger logger, string destination, string error, string method, TimeSpan reactivation);

    [LoggerMessage(1002, LogLevel.Information, "Retrying an idempotent {Method} request on {Destination} after {Error}.")]
    public static partial void Retrying(ILogger logger, string method, string destination, string error);

    [LoggerMessage(1003, LogLevel.Debug, "Stored {Key} ({Bytes} bytes).")]
    public static partial void Stored(ILogger logger, string key, long bytes);

    [LoggerMessage(1004, LogLevel.Debug, "Not stored {Key}: {Reason}.")]
    public static partial void NotStored(ILogger logger, string key, string reason);

    [LoggerMessage(1005, LogLevel.Warning, "Background revalidation failed: {Error}.")]
    public static partial void BackgroundRevalidationFailed(ILogger logger, string error);

    [LoggerMessage(1006, LogLevel.Information, "Misdirected request: no route serves this host.")]
    public static partial void Misdirected(ILogger logger);

    [LoggerMessage(1007, LogLevel.Information, "EdgeCache {Role} node {NodeId} listening: traffic {Traffic}, admin {Admin}.")]
    public static partial void Listening(ILogger logger, NodeRole role, string nodeId, string traffic, string admin);

    [LoggerMessage(1009, LogLevel.Error, "The disk tier at {Directory} could not be opened ({Message}); this node serves from memory and upstream until it restarts.")]
    public static partial void DiskUnavailable(ILogger logger, string directory, string message);

    [LoggerMessage(1010, LogLevel.Information, "The disk tier at {Directory} is open again.")]
    public static partial void DiskReopened(ILogger logger, string directory);

    /// <summary>The access log line: client, method, host, path (query only at Debug), protocol,
    /// status, body bytes (-1 when streamed without a length), milliseconds, this tier's Cache-Status entry.</summary>
    [LoggerMessage(1100, LogLevel.Information, "{Client} \"{Method} {Host}{Target} {Protocol}\" {Status} {Bytes} {Milliseconds:F1}ms \"{CacheStatus}\"")]
    public static partial void Access(ILogger logger, string client, string method, string host, string target, string protocol, int status, long bytes, double milliseconds, string cacheStatus);

    [LoggerMessage(1008, LogLevel.Warning, "Upstream response body ended early; the entry was not stored and the client transfer was cut.")]
    public static partial void BodyFailed(ILogger logger, Exception error);
}
