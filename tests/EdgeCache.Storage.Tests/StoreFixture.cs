using System.IO.Pipelines;
using EdgeCache.Engine;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Storage.Tests;

/// <summary>Helpers: a temporary directory per test, small store settings, responses to store.</summary>
internal static class Stores
{
    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "edgecache-store-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static DiskStoreOptions Small(string dir, long budget = 64L * 1024 * 1024) => new()
    {
        Directory = dir,
        BudgetBytes = budget,
        MaxObjectBytes = Math.Min(256L * 1024 * 1024, budget / 4),
        ChunkBytes = 64 * 1024,
        LogMemoryBytes = 8L * 1024 * 1024,
        IndexBytes = 1L << 20,
        CheckpointInterval = TimeSpan.FromHours(1),
    };

    public static DiskStore Open(DiskStoreOptions options) => DiskStore.Open(options, NullLogger.Instance, HeuristicOptions.Default);

    public static DiskStore Open(DiskStoreOptions options, ILogger logger, TimeProvider? time = null) => DiskStore.Open(options, logger, HeuristicOptions.Default, time);

    public static byte[] Bytes(int length, int seed = 1)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    public static CachedResponse Response(byte[] body, string cacheControl = "max-age=600", params (string, string)[] extra)
    {
        var now = DateTimeOffset.UtcNow;
        var headers = new HeaderDictionary { ["Cache-Control"] = cacheControl, ["Content-Type"] = "application/octet-stream" };
        foreach (var (k, v) in extra) headers[k] = v;
        return CachedResponseFactory.Create(200, headers, new HeaderDictionary(), CacheBody.FromBytes(body), now, now, HeuristicOptions.Default);
    }

    public static IHeaderDictionary NoHeaders => new HeaderDictionary();

    public static async Task<byte[]?> GetBytes(DiskStore store, string key, long completeUpTo = long.MaxValue, IHeaderDictionary? request = null)
    {
        var hit = await store.GetAsync(key, request ?? NoHeaders, completeUpTo, CancellationToken.None);
        if (hit is null) return null;
        var pipe = new System.IO.Pipelines.Pipe();
        var copy = hit.Body.CopyToAsync(pipe.Writer, 0, -1, CancellationToken.None);
        using var ms = new MemoryStream();
        var read = pipe.Reader.CopyToAsync(ms);
        await copy.WaitAsync(TimeSpan.FromSeconds(30));
        await pipe.Writer.CompleteAsync();
        await read.WaitAsync(TimeSpan.FromSeconds(30));
        return ms.ToArray();
    }

    public static StringValues Value(CachedResponse r, string name) => r.GetHeader(name);

    /// <summary>Random bytes with <paramref name="marker"/> written at <paramref name="at"/>, so the test can find them on disk.</summary>
    public static byte[] BytesWithMarker(int length, int seed, int at, byte[] marker)
    {
        var b = Bytes(length, seed);
        marker.CopyTo(b, at);
        return b;
    }

    /// <summary>
    /// Inverts every byte of every occurrence of <paramref name="marker"/> in the store's log files
    /// (<c>{dir}/store/hlog/*</c>), as a bad disk or a stray write would, and returns how many it found.
    /// </summary>
    public static int CorruptInLog(string dir, byte[] marker)
    {
        var found = 0;
        foreach (var file in Directory.EnumerateFiles(Path.Combine(dir, "store", "hlog")))
        {
            var bytes = File.ReadAllBytes(file);
            var hits = IndexesOf(bytes, marker);
            if (hits.Count == 0) continue;
            foreach (var at in hits)
            {
                for (var i = 0; i < marker.Length; i++) bytes[at + i] ^= 0xFF;
            }

            File.WriteAllBytes(file, bytes);
            found += hits.Count;
        }

        return found;
    }

    public static List<int> IndexesOf(ReadOnlySpan<byte> haystack, ReadOnlySpan<byte> needle)
    {
        var hits = new List<int>();
        var from = 0;
        while (true)
        {
            var i = haystack[from..].IndexOf(needle);
            if (i < 0) return hits;
            hits.Add(from + i);
            from += i + needle.Length;
        }
    }

    /// <summary>Bytes [offset, offset+count) of a body (count -1: to the end), read the way a response writes them.</summary>
    public static async Task<byte[]> ReadRange(CacheBody body, long offset, long count)
    {
        var pipe = new Pipe();
        using var ms = new MemoryStream();
        var read = pipe.Reader.CopyToAsync(ms);
        try
        {
            await body.CopyToAsync(pipe.Writer, offset, count, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            await pipe.Writer.CompleteAsync();
            await read.WaitAsync(TimeSpan.FromSeconds(30));
        }

        return ms.ToArray();
    }
}
