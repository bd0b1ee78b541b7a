using BenchmarkDotNet.Attributes;
using EdgeCache.Engine;

namespace EdgeCache.Benchmarks;

/// <summary>The Cache-Status member every response carries.</summary>
[MemoryDiagnoser]
public class CacheStatusBenchmarks
{
    private long _ttl = 3542;

    [Benchmark(Baseline = true, Description = "Format(hit; ttl; detail=memory)")]
    public string Hit() => CacheStatus.ForHit("EdgeCache-Edge", _ttl, "memory").Format();

    [Benchmark(Description = "Format(fwd=uri-miss; fwd-status; stored; ttl)")]
    public string Miss() => (CacheStatus.Forwarded("EdgeCache-Edge", "uri-miss") with { FwdStatus = 200, Stored = true, Ttl = _ttl++ }).Format();
}
