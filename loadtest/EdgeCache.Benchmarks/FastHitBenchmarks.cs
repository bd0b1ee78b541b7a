using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using EdgeCache.Engine;
using EdgeCache.Proxy;
using EdgeCache.Proxy.Internal;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;

namespace EdgeCache.Benchmarks;

/// <summary>
/// Everything the fast hit path does per request before the socket write: parse the request head as
/// received (wrk's request), check the route, build the key, find the stored copy, check rules and
/// freshness, count it, and stage the response (head bytes, then the stored body itself in the write
/// list: no body copy). Allocated bytes here are EdgeCache's per hit; the socket write (a Task per
/// gathered send) and Kestrel's transport are not included.
/// </summary>
[MemoryDiagnoser]
public class FastHitBenchmarks
{
    private byte[] _request = [];
    private readonly byte[] _scratch = new byte[FastHits.ScratchBytes];
    private readonly List<ArraySegment<byte>> _segments = new(4);
    private readonly DefaultConnectionContext _connection = new();
    private FastHits.Dependencies _deps = null!;
    private ServiceProvider _services = null!;

    [Params(1024, 100 * 1024, 1024 * 1024)]
    public int Size { get; set; }

    /// <summary>false: a plain hit (wrk's request, an object without Vary). true: a browser's
    /// Accept-Encoding selects the gzip variant of an object stored with <c>Vary: Accept-Encoding</c>.</summary>
    [Params(false, true)]
    public bool Variant { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _services = new ServiceCollection().AddMetrics().AddLogging().BuildServiceProvider();
        var options = new EdgeCacheOptions { NodeId = "bench-edge", Role = NodeRole.Edge };
        var engine = new CacheEngine(Options.Create(options), new CacheClock(new FixedClock(Samples.Now.AddSeconds(30))), new EdgeCache.Proxy.Invalidation.InvalidationState(Options.Create(options), EdgeCache.Proxy.Invalidation.InvalidationClock.System), NullLogger<CacheEngine>.Instance, NullLoggerFactory.Instance);
        var routes = new RoutedHosts();
        routes.Use(RoutedHosts.Build([new RouteConfig { RouteId = "sites", ClusterId = "shields", Match = new RouteMatch { Path = "{**catch-all}" } }]));
        var traffic = new TrafficRecorder(engine, _services.GetRequiredService<ILoggerFactory>(), _services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        _deps = new FastHits.Dependencies(engine, routes, traffic);

        var key = CacheKey.Build(Samples.Scheme, Samples.Host, Samples.PathAndQuery, HostCachePolicy.Default);
        if (Variant)
        {
            _request = Encoding.ASCII.GetBytes($"GET {Samples.PathAndQuery} HTTP/1.1\r\nHost: {Samples.Host}\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\r\n");
            var gzip = new Microsoft.AspNetCore.Http.HeaderDictionary { ["Accept-Encoding"] = "gzip, deflate, br, zstd" };
            var identity = new Microsoft.AspNetCore.Http.HeaderDictionary();
            engine.Memory.Set(key, Samples.Stored(Size, "Accept-Encoding", identity));
            engine.Memory.Set(key, Samples.Stored(Size, "Accept-Encoding", gzip, contentEncoding: "gzip"));
        }
        else
        {
            _request = Encoding.ASCII.GetBytes($"GET {Samples.PathAndQuery} HTTP/1.1\r\nHost: {Samples.Host}\r\n\r\n");
            engine.Memory.Set(key, Samples.Stored(Size, null, new Microsoft.AspNetCore.Http.HeaderDictionary()));
        }

        if (!Run()) throw new InvalidOperationException("expected a fast hit");
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    [Benchmark(Description = "fast hit path work per memory hit")]
    public bool FastHit() => Run();

    /// <summary>Cache time stands 30 s after the sample was stored, so it is fresh (s-maxage=600).</summary>
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private bool Run()
    {
        if (!FastHits.TryFind(_deps, _connection, new ReadOnlySequence<byte>(_request), _scratch, allowClose: true, out _, out var hit)) return false;
        FastHits.Stage(hit, _scratch, _segments);
        _segments.Clear();
        return true;
    }
}
