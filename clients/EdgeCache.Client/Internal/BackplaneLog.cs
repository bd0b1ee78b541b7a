using Microsoft.Extensions.Logging;

namespace EdgeCache.Client.Internal;

/// <summary>The backplane's log messages, event ids 7100–7199. Never the key, never a cache key; tags
/// and URLs only at Debug.</summary>
internal static partial class BackplaneLog
{
    [LoggerMessage(7101, LogLevel.Information, "HybridCache backplane: instance {Instance} follows the purge API's event feed from sequence {Sequence}.")]
    public static partial void Started(ILogger logger, string instance, ulong sequence);

    [LoggerMessage(7102, LogLevel.Warning, "HybridCache backplane: a poll of the event feed failed ({Reason}); retrying in {Delay}. L1 is trusted until the lease ({Lease}) since the last confirmed poll ends.")]
    public static partial void PollFailed(ILogger logger, string reason, TimeSpan delay, TimeSpan lease);

    [LoggerMessage(7103, LogLevel.Warning, "HybridCache backplane: no confirmed poll within the lease ({Lease}); L1 is bypassed until the feed is reached and the missed events are applied.")]
    public static partial void LeaseEnded(ILogger logger, TimeSpan lease);

    [LoggerMessage(7104, LogLevel.Information, "HybridCache backplane: confirmed again at sequence {Sequence}; L1 is used again.")]
    public static partial void Reconfirmed(ILogger logger, ulong sequence);

    [LoggerMessage(7105, LogLevel.Warning, "HybridCache backplane: the feed no longer holds the events after {After}; everything was removed from HybridCache (tag '*').")]
    public static partial void Reset(ILogger logger, ulong after);

    [LoggerMessage(7106, LogLevel.Debug, "HybridCache backplane: applied event {Sequence} ({Id}): tags {Tags}, {Urls} URL(s), everything: {Everything}.")]
    public static partial void Applied(ILogger logger, ulong sequence, string id, string tags, int urls, bool everything);

    [LoggerMessage(7107, LogLevel.Error, "HybridCache backplane: the purge API refused the key ({Status}); fix EdgeCacheClient:ApiKey. Retrying in {Delay}.")]
    public static partial void Refused(ILogger logger, int status, TimeSpan delay);
}
