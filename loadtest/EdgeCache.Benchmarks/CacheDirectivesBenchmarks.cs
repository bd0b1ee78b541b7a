using BenchmarkDotNet.Attributes;
using EdgeCache.Engine;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Benchmarks;

/// <summary>Cache-Control parsing: every hit parses the request's (usually absent) field.</summary>
[MemoryDiagnoser]
public class CacheDirectivesBenchmarks
{
    private readonly StringValues _response = Samples.ResponseCacheControl;
    private readonly StringValues _request = "max-age=0";
    private readonly StringValues _absent = StringValues.Empty;

    [Benchmark(Baseline = true, Description = "Parse(typical response header)")]
    public CacheDirectives ParseResponse() => CacheDirectives.Parse(_response);

    [Benchmark(Description = "Parse(\"max-age=0\")")]
    public CacheDirectives ParseRequest() => CacheDirectives.Parse(_request);

    [Benchmark(Description = "Parse(absent)")]
    public CacheDirectives ParseAbsent() => CacheDirectives.Parse(_absent);
}
