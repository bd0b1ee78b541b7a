using Microsoft.Extensions.Logging;

namespace EdgeCache.Proxy;

/// <summary>Source-generated log messages. Event ids 1000–1999 belong to this project.
/// Cache keys and query strings are logged only at Debug.</summary>
internal static partial class Log
{
    [LoggerMessage(EventIds.UpstreamFailed, LogLevel.Warning, "Upstream {Destination} failed ({Error}) for a {Method} request; the cluster's passive health policy decides whether it stays in use.")]
    public static partial void UpstreamFailed(ILogger logger, string destination, string error, string method);

    /// <summary>An edge's shield did not answer in time: neither retried on another shield (that would fetch
    /// the object from the origin twice) nor counted by the passive health policy (the shield works; its
    /// origin is slow). The active health check finds a hung shield.</summary>
    [LoggerMessage(EventIds.ShieldTimedOut, LogLevel.Warning, "Shield {Destination} did not answer a {Method} request within the host's ResponseTimeout; not retried on another shield and not counted against its health (its origin is likely slow).")]
    public static partial void ShieldTimedOut(ILogger logger, string destination, string method);

    /// <summary>A shield that took a request went silent (cut off: packets dropped, not refused) and its health
    /// checks marked it down before it sent a response head: the request is retried on the next shield instead of
    /// waiting out the host's ResponseTimeout.</summary>
    [LoggerMessage(EventIds.ShieldMarkedDown, LogLevel.Warning, "Shield {Destination} was marked down by its health checks while a {Method} request waited for its response head; the request is given up there.")]
    public static partial void ShieldMarkedDown(ILogger logger, string destination, string method);

    [LoggerMessage(EventIds.Retrying, LogLevel.Information, "Retrying an idempotent {Method} request on {Destination} after {Error}.")]
    public static partial void Retrying(ILogger logger, string method, string destination, string error);

    [LoggerMessage(EventIds.Stored, LogLevel.Debug, "Stored {Key} ({Bytes} bytes).")]
    public static partial void Stored(ILogger logger, string key, long bytes);

    [LoggerMessage(EventIds.NotStored, LogLevel.Debug, "Not stored {Key}: {Reason}.")]
    public static partial void NotStored(ILogger logger, string key, string reason);

    [LoggerMessage(EventIds.BackgroundRevalidationFailed, LogLevel.Warning, "Background revalidation failed: {Error}.")]
    public static partial void BackgroundRevalidationFailed(ILogger logger, string error);

    [LoggerMessage(EventIds.Misdirected, LogLevel.Information, "Misdirected request: no route serves this host.")]
    public static partial void Misdirected(ILogger logger);

    [LoggerMessage(EventIds.Listening, LogLevel.Information, "EdgeCache {Role} node {NodeId} listening: traffic {Traffic}, admin {Admin}.")]
    public static partial void Listening(ILogger logger, NodeRole role, string nodeId, string traffic, string admin);

    [LoggerMessage(EventIds.DiskUnavailable, LogLevel.Error, "The disk tier at {Directory} could not be opened ({Message}); this node serves from memory and upstream until it restarts.")]
    public static partial void DiskUnavailable(ILogger logger, string directory, string message);

    [LoggerMessage(EventIds.DiskReopened, LogLevel.Information, "The disk tier at {Directory} is open again.")]
    public static partial void DiskReopened(ILogger logger, string directory);

    /// <summary>The access log line: client, method, host, path (query only at Debug), protocol,
    /// status, body bytes (-1 when streamed without a length), milliseconds, this tier's Cache-Status entry.</summary>
    [LoggerMessage(EventIds.Access, LogLevel.Information, "{Client} \"{Method} {Host}{Target} {Protocol}\" {Status} {Bytes} {Milliseconds:F1}ms \"{CacheStatus}\"")]
    public static partial void Access(ILogger logger, string client, string method, string host, string target, string protocol, int status, long bytes, double milliseconds, string cacheStatus);

    [LoggerMessage(EventIds.BodyFailed, LogLevel.Warning, "Upstream response body ended early; the entry was not stored and the client transfer was cut.")]
    public static partial void BodyFailed(ILogger logger, Exception error);

    [LoggerMessage(EventIds.InvalidationResuming, LogLevel.Information, "Invalidation: resuming the stream after sequence {Sequence} ({Source}).")]
    public static partial void InvalidationResuming(ILogger logger, ulong sequence, string source);

    [LoggerMessage(EventIds.InvalidationGap, LogLevel.Warning, "Invalidation: the stream no longer holds the events after sequence {Applied} (it starts at {First}); everything stored before is dropped.")]
    public static partial void InvalidationGap(ILogger logger, ulong applied, ulong first);

    [LoggerMessage(EventIds.InvalidationReset, LogLevel.Error, "Invalidation: the stream was reset (it ends at {Last}, this node had applied {Applied}); the memory and disk tiers are emptied.")]
    public static partial void InvalidationReset(ILogger logger, ulong last, ulong applied);

    [LoggerMessage(EventIds.InvalidationUnavailable, LogLevel.Warning, "Invalidation: NATS is unavailable ({Message}); serving on, degraded, and retrying.")]
    public static partial void InvalidationUnavailable(ILogger logger, string message);

    [LoggerMessage(EventIds.InvalidationMalformed, LogLevel.Warning, "Invalidation: event {Sequence} is not a valid event and was skipped.")]
    public static partial void InvalidationMalformed(ILogger logger, ulong sequence);

    [LoggerMessage(EventIds.InvalidationApplied, LogLevel.Information, "Invalidation: applied {Kind} {Id} at sequence {Sequence} ({Selectors} selectors, soft={Soft}).")]
    public static partial void InvalidationApplied(ILogger logger, string kind, string id, ulong sequence, int selectors, bool soft);

    [LoggerMessage(EventIds.InvalidationLeaseExpired, LogLevel.Warning, "Invalidation: this node has not confirmed it is caught up for {Elapsed}; it revalidates stored objects and has left membership until it is.")]
    public static partial void InvalidationLeaseExpired(ILogger logger, TimeSpan elapsed);

    [LoggerMessage(EventIds.InvalidationCaughtUp, LogLevel.Information, "Invalidation: caught up again at sequence {Sequence}.")]
    public static partial void InvalidationCaughtUp(ILogger logger, ulong sequence);

    [LoggerMessage(EventIds.InvalidationConsumerRestart, LogLevel.Warning, "Invalidation: restarting the stream's consumer: {Reason} (the stream ends at {Last}, this node applied {Applied}).")]
    public static partial void InvalidationConsumerRestart(ILogger logger, string reason, ulong last, ulong applied);

    [LoggerMessage(EventIds.DiscoveryChanged, LogLevel.Information, "Shield discovery: cluster {Cluster} now uses {Destinations}.")]
    public static partial void DiscoveryChanged(ILogger logger, string cluster, string destinations);

    [LoggerMessage(EventIds.DiscoveryFailed, LogLevel.Warning, "Shield discovery: could not read membership ({Message}); keeping the current shields.")]
    public static partial void DiscoveryFailed(ILogger logger, string message);

    [LoggerMessage(EventIds.ConfigurationReloaded, LogLevel.Information, "Configuration reloaded: per-host cache settings for {Hosts} host(s) are in force.")]
    public static partial void ConfigurationReloaded(ILogger logger, int hosts);

    [LoggerMessage(EventIds.ConfigurationRefused, LogLevel.Error, "Configuration change refused, the settings in force stay: {Reason}")]
    public static partial void ConfigurationRefused(ILogger logger, string reason);

    [LoggerMessage(EventIds.ConfigurationNeedsRestart, LogLevel.Warning, "Configuration: {Settings} changed, but take effect only when the node restarts.")]
    public static partial void ConfigurationNeedsRestart(ILogger logger, string settings);

    [LoggerMessage(EventIds.CertificateInForce, LogLevel.Information, "TLS: certificate {Setting} in force for {Names}, valid until {NotAfter:u}, thumbprint {Thumbprint}.")]
    public static partial void CertificateInForce(ILogger logger, string setting, string names, DateTimeOffset notAfter, string thumbprint);

    [LoggerMessage(EventIds.CertificateReloaded, LogLevel.Information, "TLS: certificate {Setting} reloaded from {Path}: {Names}, valid until {NotAfter:u}, thumbprint {Thumbprint}. New connections get it; open ones keep theirs.")]
    public static partial void CertificateReloaded(ILogger logger, string setting, string path, string names, DateTimeOffset notAfter, string thumbprint);

    [LoggerMessage(EventIds.CertificateRefused, LogLevel.Error, "TLS: the changed files of certificate {Setting} were refused, the certificate in force stays: {Reason}")]
    public static partial void CertificateRefused(ILogger logger, string setting, string reason);

    [LoggerMessage(EventIds.HostWithoutCertificate, LogLevel.Warning, "TLS: no certificate covers the configured host {Host}; HTTPS clients asking for it get {Fallback}, and their requests are answered 421.")]
    public static partial void HostWithoutCertificate(ILogger logger, string host, string fallback);

    [LoggerMessage(EventIds.HandshakeRefused, LogLevel.Debug, "TLS: handshake refused: no certificate for the server name {ServerName}.")]
    public static partial void HandshakeRefused(ILogger logger, string serverName);

    [LoggerMessage(EventIds.MisdirectedConnection, LogLevel.Debug, "Misdirected request: the connection's certificate does not cover the host {Host}.")]
    public static partial void MisdirectedConnection(ILogger logger, string host);

    [LoggerMessage(EventIds.CertificateWatchUnavailable, LogLevel.Warning, "TLS: the certificate directory {Directory} cannot be watched ({Message}); changes are seen at the next poll.")]
    public static partial void CertificateWatchUnavailable(ILogger logger, string directory, string message);

    [LoggerMessage(EventIds.OriginCertificateRejected, LogLevel.Warning, "Upstream TLS: the certificate of {Host} (cluster {Cluster}) was not trusted: {Reason}.")]
    public static partial void OriginCertificateRejected(ILogger logger, string host, string cluster, string reason);

    [LoggerMessage(EventIds.OriginTrustedCaUnusable, LogLevel.Error, "Upstream TLS: cluster {Cluster}: {Reason}; its upstreams are checked against the system's trusted roots only.")]
    public static partial void OriginTrustedCaUnusable(ILogger logger, string cluster, string reason);

    [LoggerMessage(EventIds.Encoded, LogLevel.Debug, "Compression: made a {Coding} representation, {BytesIn} bytes to {BytesOut}.")]
    public static partial void Encoded(ILogger logger, string coding, long bytesIn, long bytesOut);

    [LoggerMessage(EventIds.EncodeFailed, LogLevel.Warning, "Compression: making a {Coding} representation failed ({Message}); nothing was stored and the transfer was cut.")]
    public static partial void EncodeFailed(ILogger logger, string coding, string message);

    [LoggerMessage(EventIds.Recompressed, LogLevel.Debug, "Compression: a hot {Coding} representation was made again at level {Level}, {BytesBefore} bytes to {BytesAfter}.")]
    public static partial void Recompressed(ILogger logger, string coding, int level, long bytesBefore, long bytesAfter);

    [LoggerMessage(EventIds.RecompressFailed, LogLevel.Warning, "Compression: making a hot {Coding} representation again at level {Level} failed ({Message}); the first copy is kept.")]
    public static partial void RecompressFailed(ILogger logger, string coding, int level, string message);

    [LoggerMessage(EventIds.ImageMade, LogLevel.Debug, "Images: made a {Format} variant {Width}x{Height}, {BytesIn} bytes to {BytesOut}.")]
    public static partial void ImageMade(ILogger logger, string format, int width, int height, long bytesIn, long bytesOut);

    [LoggerMessage(EventIds.ImageRefused, LogLevel.Information, "Images: no variant made ({Reason}); the original was served.")]
    public static partial void ImageRefused(ILogger logger, string reason);

    [LoggerMessage(EventIds.ImageWorkerRetired, LogLevel.Warning, "Images: worker process {Pid} was stopped: {Why}. One variant was lost (the original served); the next job starts a new worker.")]
    public static partial void ImageWorkerRetired(ILogger logger, int pid, string why);

    [LoggerMessage(EventIds.ImageWorkerSaid, LogLevel.Debug, "Images: worker: {Line}")]
    public static partial void ImageWorkerSaid(ILogger logger, string line);

    [LoggerMessage(EventIds.ImageWorkerFailed, LogLevel.Error, "Images: the image worker could not be started ({Message}); originals are served instead of variants.")]
    public static partial void ImageWorkerFailed(ILogger logger, string message);

    [LoggerMessage(EventIds.ReplicationPushFailed, LogLevel.Debug, "Replicating {Key} to shield {Peer} failed: {Reason}.")]
    public static partial void ReplicationPushFailed(ILogger logger, string key, string peer, string reason);

    [LoggerMessage(EventIds.ReplicationQueueFull, LogLevel.Warning, "The replication queue is full (Replication:QueueLength {Length}): objects fetched now have one home until a peer fill or their next fetch. Further drops are counted in edgecache.replication.pushes{{outcome=\"dropped\"}}, not logged, until the queue has room again.")]
    public static partial void ReplicationQueueFull(ILogger logger, int length);

    [LoggerMessage(EventIds.ReplicationSelfUnnamed, LogLevel.Warning, "The replication cluster '{Cluster}' has no destination named '{NodeId}' (this shield's EdgeCache:NodeId): name every shield by its node id, this one included, as the edges' shield cluster does, or pushes and peer fills go to the wrong shield.")]
    public static partial void ReplicationSelfUnnamed(ILogger logger, string cluster, string nodeId);
}
