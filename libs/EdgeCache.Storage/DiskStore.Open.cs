using EdgeCache.Engine;
using EdgeCache.Storage.Internal;
using FASTER.core;
using Microsoft.Extensions.Logging;

namespace EdgeCache.Storage;

/// <summary>Opening the store: its format marker, recovery from the last checkpoint, and setting
/// aside (or wiping) a store that cannot be used.</summary>
public sealed partial class DiskStore
{
    public const int FormatVersion = 1;
    private const string FormatLine = "edgecache-disk-store";

    /// <summary>How the store came up: recovered, new, or set aside/wiped and new.</summary>
    public DiskOpenedAs OpenedAs { get; private set; } = DiskOpenedAs.New;

    /// <summary>How long opening (and recovering) took.</summary>
    public TimeSpan OpenDuration { get; private set; }

    /// <summary>Opens (or creates, or recovers) the store under <c>{Directory}/store</c>.</summary>
    public static DiskStore Open(DiskStoreOptions options, ILogger logger, HeuristicOptions heuristics, TimeProvider? time = null)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var root = Path.GetFullPath(options.Directory);
        var dir = Path.Combine(root, "store");
        var opened = DiskOpenedAs.New;
        if (Directory.Exists(dir))
        {
            var format = ReadFormat(dir);
            if (format == FormatVersion)
            {
                opened = DiskOpenedAs.Recovered;
            }
            else
            {
                SetAside(dir, options, logger, format is null ? "it has no format marker" : $"it is format {format}, this node writes {FormatVersion}");
                opened = DiskOpenedAs.SetAside;
            }
        }

        FasterKV<StoreKey, SpanByte>? store = null;
        IDevice? device = null;
        try
        {
            (store, device) = Create(dir, options, recover: opened == DiskOpenedAs.Recovered);
        }
        catch (Exception ex) when (opened == DiskOpenedAs.Recovered)
        {
            store?.Dispose();
            device?.Dispose();
            SetAside(dir, options, logger, "it could not be recovered: " + ex.Message);
            opened = DiskOpenedAs.SetAside;
            (store, device) = Create(dir, options, recover: false);
        }

        var result = new DiskStore(options, logger, heuristics, time ?? TimeProvider.System, store, device, dir)
        {
            OpenedAs = opened,
            OpenDuration = System.Diagnostics.Stopwatch.GetElapsedTime(started),
        };
        Log.Opened(logger, dir, opened.ToWord(), result.LogBytes, result.OpenDuration.TotalMilliseconds);
        return result;
    }

    private static (FasterKV<StoreKey, SpanByte>, IDevice) Create(string dir, DiskStoreOptions options, bool recover)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "FORMAT"), $"{FormatLine} {FormatVersion}\n");
        var checkpoints = Path.Combine(dir, "checkpoints");
        var hasCheckpoint = recover && Directory.Exists(checkpoints) && Directory.EnumerateFileSystemEntries(checkpoints).Any();
        var device = Devices.CreateLogDevice(Path.Combine(dir, "hlog", "log"), preallocateFile: false, deleteOnClose: false, recoverDevice: hasCheckpoint);
        var settings = new FasterKVSettings<StoreKey, SpanByte>(null)
        {
            IndexSize = options.IndexBytes,
            LogDevice = device,
            PageSize = DiskStoreOptions.PageBytes,
            SegmentSize = options.SegmentBytes,
            MemorySize = options.LogMemoryBytes,
            CheckpointDir = checkpoints,
            RemoveOutdatedCheckpoints = true,
            // Reads copy to the tail only through a worker's copying session, near the log's head (see DiskStore.Read).
            ReadCopyOptions = ReadCopyOptions.None,
            EqualityComparer = new StoreKeyComparer(),
        };
        var store = new FasterKV<StoreKey, SpanByte>(settings);
        try
        {
            if (hasCheckpoint) store.Recover();
        }
        catch
        {
            store.Dispose();
            device.Dispose();
            throw;
        }

        return (store, device);
    }

    private static int? ReadFormat(string dir)
    {
        var file = Path.Combine(dir, "FORMAT");
        if (!File.Exists(file)) return null;
        var parts = File.ReadAllText(file).Trim().Split(' ');
        return parts.Length == 2 && parts[0] == FormatLine && int.TryParse(parts[1], out var v) ? v : null;
    }

    private static void SetAside(string dir, DiskStoreOptions options, ILogger logger, string reason)
    {
        if (options.OnIncompatibleStore == IncompatibleStoreAction.Wipe)
        {
            Directory.Delete(dir, recursive: true);
            Log.StoreWiped(logger, dir, reason);
            return;
        }

        var aside = dir + ".set-aside-" + DateTime.UtcNow.ToString("yyyyMMddTHHmmssfff", System.Globalization.CultureInfo.InvariantCulture);
        Directory.Move(dir, aside);
        Log.StoreSetAside(logger, dir, aside, reason);
    }
}
