using BenchmarkDotNet.Attributes;
using EdgeCache.Engine;

namespace EdgeCache.Benchmarks;

/// <summary>Primary key building: once per request.</summary>
[MemoryDiagnoser]
public class CacheKeyBenchmarks
{
    private readonly HostCachePolicy _sorting = new() { SortQuery = true, IgnoreQueryParameters = ["utm_*"] };

    [Benchmark(Baseline = true, Description = "Build(default policy)")]
    public string Default() => CacheKey.Build(Samples.Scheme, Samples.Host, Samples.PathAndQuery, HostCachePolicy.Default);

    [Benchmark(Description = "Build(mixed-case host:80)")]
    public string MixedCaseHost() => CacheKey.Build(Samples.Scheme, "WWW.Example.com:80", Samples.PathAndQuery, HostCachePolicy.Default);

    [Benchmark(Description = "Build(sort query, drop utm_*)")]
    public string SortedQuery() => CacheKey.Build(Samples.Scheme, Samples.Host, "/obj/1k/item-42?w=640&utm_source=x&fmt=webp", _sorting);
}
