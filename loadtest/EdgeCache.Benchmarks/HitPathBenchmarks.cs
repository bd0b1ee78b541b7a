using BenchmarkDotNet.Attributes;
using EdgeCache.Engine;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.Benchmarks;

/// <summary>
/// The engine's share of one memory hit, in the order the lookup middleware runs it: parse the
/// request's Cache-Control, build the key, look up the variant, check freshness, format
/// Cache-Status. Its allocated bytes are the engine's bytes per hit (Kestrel's are not included).
/// </summary>
[MemoryDiagnoser]
public class HitPathBenchmarks
{
    private readonly IHeaderDictionary _request = Samples.BrowserRequest();
    private readonly MemoryTier _tier = new(64L * 1024 * 1024, 16L * 1024 * 1024);

    [Params(1024, 100 * 1024, 1024 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var key = CacheKey.Build(Samples.Scheme, Samples.Host, Samples.PathAndQuery, HostCachePolicy.Default);
        _tier.Set(key, Samples.Stored(Size, null, _request));
    }

    [Benchmark(Description = "engine work per memory hit")]
    public string Hit()
    {
        var directives = CacheDirectives.Parse(_request.CacheControl);
        var key = CacheKey.Build(Samples.Scheme, Samples.Host, Samples.PathAndQuery, HostCachePolicy.Default);
        var stored = _tier.Get(key, _request, out _) ?? throw new InvalidOperationException("expected a hit");
        var age = stored.CurrentAge(Samples.Now.AddSeconds(30));
        var ttl = (long)Math.Floor((stored.FreshnessLifetime - age).TotalSeconds);
        var fresh = stored.IsFresh(Samples.Now.AddSeconds(30)) && !directives.NoCache;
        return fresh ? CacheStatus.ForHit("EdgeCache-Edge", ttl, "memory").Format() : "";
    }
}
