using EdgeCache.Engine;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.Storage.Tests.Child;

/// <summary>
/// What the child writes, defined once for the child and the test that checks it (the test
/// project compiles this file too): keys, bodies and store settings are all derived from numbers.
/// </summary>
public static class Workload
{
    /// <summary>Objects written before the checkpoint.</summary>
    public const int Before = 40;

    /// <summary>New objects written after the checkpoint (about 20 MiB: more than the log's memory, so some reach the file).</summary>
    public const int After = 120;

    /// <summary>Objects of the first phase that are written again, with other bodies, after the checkpoint.</summary>
    public const int Rewritten = 10;

    public static DiskStoreOptions Options(string directory) => new()
    {
        Directory = directory,
        BudgetBytes = 256L * 1024 * 1024,
        MaxObjectBytes = 16L * 1024 * 1024,
        ChunkBytes = 64 * 1024,
        LogMemoryBytes = 8L * 1024 * 1024,
        IndexBytes = 1L << 20,
        CheckpointInterval = TimeSpan.FromHours(1),
    };

    public static string Key(int i) => $"http://child.example/object/{i}";

    /// <summary>The body of object <paramref name="i"/> in its <paramref name="version"/> (1 before the checkpoint, 2 rewritten after).</summary>
    public static byte[] Body(int i, int version = 1)
    {
        // From 1 byte to a little over 5 chunks, so some objects span several chunks.
        var length = 1 + (i * 37_813 + version * 7_919) % (5 * 64 * 1024 + 3);
        var body = new byte[length];
        new Random((i * 31) + version).NextBytes(body);
        return body;
    }

    public static CachedResponse Response(byte[] body)
    {
        var now = DateTimeOffset.UtcNow;
        var headers = new HeaderDictionary { ["Cache-Control"] = "max-age=600", ["Content-Type"] = "application/octet-stream" };
        return CachedResponseFactory.Create(200, headers, new HeaderDictionary(), CacheBody.FromBytes(body), now, now, HeuristicOptions.Default);
    }
}
