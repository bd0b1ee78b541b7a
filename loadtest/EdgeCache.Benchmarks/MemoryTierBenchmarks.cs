using BenchmarkDotNet.Attributes;
using EdgeCache.Engine;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.Benchmarks;

/// <summary>The memory-tier lookup on a hit, with and without a Vary variant to select.</summary>
[MemoryDiagnoser]
public class MemoryTierBenchmarks
{
    private const int Objects = 10_000;

    private readonly MemoryTier _tier = new(512L * 1024 * 1024, 16L * 1024 * 1024);
    private readonly HeaderDictionary _request = Samples.BrowserRequest();
    private string _plainKey = "";
    private string _varyKey = "";
    private CachedResponse _varyEntry = null!;

    [GlobalSetup]
    public void Setup()
    {
        // A populated tier: lookups go through a realistically sized dictionary.
        for (var i = 0; i < Objects; i++)
        {
            var key = CacheKey.Build(Samples.Scheme, Samples.Host, "/obj/1k/item-" + i, HostCachePolicy.Default);
            _tier.Set(key, Samples.Stored(1024, null, _request));
        }

        _plainKey = CacheKey.Build(Samples.Scheme, Samples.Host, "/obj/1k/item-42", HostCachePolicy.Default);
        _varyKey = CacheKey.Build(Samples.Scheme, Samples.Host, "/obj/1k/varied", HostCachePolicy.Default);
        _varyEntry = Samples.Stored(1024, "Accept-Encoding, Accept-Language", _request);
        _tier.Set(_varyKey, _varyEntry);
        // A second variant that the request does not select, checked first or second.
        var other = Samples.BrowserRequest();
        other["Accept-Language"] = "fr-FR";
        _tier.Set(_varyKey, Samples.Stored(1024, "Accept-Encoding, Accept-Language", other));
    }

    [Benchmark(Baseline = true, Description = "MemoryTier.Get hit (no Vary)")]
    public CachedResponse? GetHit() => _tier.Get(_plainKey, _request, out _);

    [Benchmark(Description = "MemoryTier.Get hit (Vary: AE, AL; 2 variants)")]
    public CachedResponse? GetVaryHit() => _tier.Get(_varyKey, _request, out _);

    [Benchmark(Description = "Vary.Matches (AE, AL)")]
    public bool VaryMatches() => Vary.Matches(_varyEntry, _request);
}
