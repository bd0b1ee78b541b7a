using Microsoft.Extensions.Logging;

namespace EdgeCache.Proxy;

/// <summary>Source-generated log messages. Event ids 1000–1999 belong to this project.
/// Cache keys and query strings are logged only at Debug.</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Warning, "Upstream {Destination} failed ({Error}) for a {Method} request; the cluster's passive health policy decides whether it stays in use.")]
    public static partial void UpstreamFailed(ILogger logger, string destination, string error, string method);

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

    [LoggerMessage(1200, LogLevel.Information, "Invalidation: resuming the stream after sequence {Sequence} ({Source}).")]
    public static partial void InvalidationResuming(ILogger logger, ulong sequence, string source);

    [LoggerMessage(1201, LogLevel.Warning, "Invalidation: the stream no longer holds the events after sequence {Applied} (it starts at {First}); everything stored before is dropped.")]
    public static partial void InvalidationGap(ILogger logger, ulong applied, ulong first);

    [LoggerMessage(1202, LogLevel.Error, "Invalidation: the stream was reset (it ends at {Last}, this node had applied {Applied}); the memory and disk tiers are emptied.")]
    public static partial void InvalidationReset(ILogger logger, ulong last, ulong applied);

    [LoggerMessage(1203, LogLevel.Warning, "Invalidation: NATS is unavailable ({Message}); serving on, degraded, and retrying.")]
    public static partial void InvalidationUnavailable(ILogger logger, string message);

    [LoggerMessage(1204, LogLevel.Warning, "Invalidation: event {Sequence} is not a valid event and was skipped.")]
    public static partial void InvalidationMalformed(ILogger logger, ulong sequence);

    [LoggerMessage(1205, LogLevel.Information, "Invalidation: applied {Kind} {Id} at sequence {Sequence} ({Selectors} selectors, soft={Soft}).")]
    public static partial void InvalidationApplied(ILogger logger, string kind, string id, ulong sequence, int selectors, bool soft);

    [LoggerMessage(1206, LogLevel.Warning, "Invalidation: this node has not confirmed it is caught up for {Elapsed}; it revalidates stored objects and has left membership until it is.")]
    public static partial void InvalidationLeaseExpired(ILogger logger, TimeSpan elapsed);

    [LoggerMessage(1207, LogLevel.Information, "Invalidation: caught up again at sequence {Sequence}.")]
    public static partial void InvalidationCaughtUp(ILogger logger, ulong sequence);

    [LoggerMessage(1208, LogLevel.Information, "Shield discovery: cluster {Cluster} now uses {Destinations}.")]
    public static partial void DiscoveryChanged(ILogger logger, string cluster, string destinations);

    [LoggerMessage(1209, LogLevel.Warning, "Shield discovery: could not read membership ({Message}); keeping the current shields.")]
    public static partial void DiscoveryFailed(ILogger logger, string message);

    [LoggerMessage(1300, LogLevel.Information, "Configuration reloaded: per-host cache settings for {Hosts} host(s) are in force.")]
    public static partial void ConfigurationReloaded(ILogger logger, int hosts);

    [LoggerMessage(1301, LogLevel.Error, "Configuration change refused, the settings in force stay: {Reason}")]
    public static partial void ConfigurationRefused(ILogger logger, string reason);

    [LoggerMessage(1302, LogLevel.Warning, "Configuration: {Settings} changed, but take effect only when the node restarts.")]
    public static partial void ConfigurationNeedsRestart(ILogger logger, string settings);
}
