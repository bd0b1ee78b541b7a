using Microsoft.Extensions.Logging;

namespace EdgeCache.Storage;

/// <summary>Source-generated log messages. Event ids 2000–2999 belong to this project. No keys are logged.</summary>
internal static partial class Log
{
    [LoggerMessage(EventIds.Opened, LogLevel.Information, "Disk store {Directory} opened ({How}): {LogBytes} bytes of log, in {Milliseconds} ms.")]
    public static partial void Opened(ILogger logger, string directory, string how, long logBytes, double milliseconds);

    [LoggerMessage(EventIds.StoreSetAside, LogLevel.Warning, "Disk store {Directory} was set aside as {Aside} because {Reason}; starting empty.")]
    public static partial void StoreSetAside(ILogger logger, string directory, string aside, string reason);

    [LoggerMessage(EventIds.StoreWiped, LogLevel.Warning, "Disk store {Directory} was wiped because {Reason}; starting empty.")]
    public static partial void StoreWiped(ILogger logger, string directory, string reason);

    [LoggerMessage(EventIds.StoreFailing, LogLevel.Error, "Disk store failing ({Operation}: {ErrorType}: {Message}). Serving from memory and upstream; this is logged at most once per {Interval}.")]
    public static partial void StoreFailing(ILogger logger, string operation, string errorType, string message, TimeSpan interval);

    [LoggerMessage(EventIds.Corrupt, LogLevel.Warning, "A corrupt {Record} was found on disk; it was deleted and treated as a miss.")]
    public static partial void Corrupt(ILogger logger, string record);

    [LoggerMessage(EventIds.CheckpointedOnStop, LogLevel.Information, "Disk store {Directory} checkpointed on stop.")]
    public static partial void CheckpointedOnStop(ILogger logger, string directory);

    [LoggerMessage(EventIds.StoppedStalled, LogLevel.Warning, "Disk store {Directory} stopped without a checkpoint: an operation is stuck on the failing disk. It recovers from its last checkpoint on the next start.")]
    public static partial void StoppedStalled(ILogger logger, string directory);
}
