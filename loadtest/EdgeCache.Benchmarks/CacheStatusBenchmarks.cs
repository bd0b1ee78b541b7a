using BenchmarkDotNet.Attributes;
using EdgeCache.Engine;

namespace EdgeCache.Benchmarks;

/// <summary>The Cache-Status member every response carries.</summary>
[MemoryDiagnoser]
public class CacheStatusBenchmarks
{
    private long _ttl = 3542;

    [Benchmark(Baseline = true, Description = "Format(hit; ttl; detail=memory)")]
    public string Hit() => CacheStatus.Format("EdgeCache-Edge", hit: true, fwd: null, fwdStatus: null, stored: false, collapsed: false, _ttl, "memory");

    [Benchmark(Description = "Format(fwd=uri-miss; fwd-status; stored; ttl)")]
    public string Miss() => CacheStatus.Format("EdgeCache-Edge", hit: false, fwd: "uri-miss", fwdStatus: 200, stored: true, collapsed: false, _ttl++, null);
}
