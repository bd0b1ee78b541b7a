using BenchmarkDotNet.Attributes;
using EdgeCache.Engine;
using EdgeCache.Proxy;

namespace EdgeCache.Benchmarks;

/// <summary>
/// <see cref="NegotiatedFastHitBenchmarks"/> with the br representation watched for a re-encode at a high level
/// (<c>Compression:RecompressAfterHits</c>), as every representation a node makes at its fast level is until it
/// is hot: each hit also counts on the copy (one interlocked increment). The threshold is never reached here, so
/// every hit pays it, the worst case.
/// </summary>
[MemoryDiagnoser]
public class WatchedFastHitBenchmarks : NegotiatedFastHitBenchmarks
{
    protected override void Stored(CacheEngine engine, string key, CachedResponse entry, string coding)
    {
        if (coding == "br") engine.Recompressions.Watch(key, entry, "br", 5, new CompressionPolicy { Enabled = true, RecompressAfterHits = int.MaxValue });
    }
}
