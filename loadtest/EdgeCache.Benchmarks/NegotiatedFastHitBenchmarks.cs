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
/// <see cref="FastHitBenchmarks"/>' variant case on a host that compresses (<c>Compression:Enabled</c>):
/// a browser's <c>Accept-Encoding: gzip, deflate, br, zstd</c> is negotiated to br and selects the br
/// representation among identity, br and gzip. The hit of an encoded variant must cost what any
/// variant hit costs (issue 18): no encoding here, only the negotiation, remembered per header value.
/// </summary>
[MemoryDiagnoser]
public class NegotiatedFastHitBenchmarks
{
    private byte[] _request = [];
    private readonly byte[] _scratch = new byte[FastHits.ScratchBytes];
    private readonly List<ArraySegment<byte>> _segments = new(4);
    private readonly DefaultConnectionContext _connection = new();
    private FastHits.Dependencies _deps = null!;
    private ServiceProvider _services = null!;

    [Params(1024, 100 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _services = new ServiceCollection().AddMetrics().AddLogging().BuildServiceProvider();
        var options = new EdgeCacheOptions { NodeId = "bench-edge", Role = NodeRole.Edge };
        options.Defaults.Compression.Enabled = true;
        var engine = new CacheEngine(Options.Create(options), new CacheClock(new FixedClock(Samples.Now.AddSeconds(30))), new EdgeCache.Proxy.Invalidation.InvalidationState(Options.Create(options), EdgeCache.Proxy.Invalidation.InvalidationClock.System), NullLogger<CacheEngine>.Instance, NullLoggerFactory.Instance);
        var routes = new RoutedHosts();
        routes.Use(RoutedHosts.Build([new RouteConfig { RouteId = "sites", ClusterId = "shields", Match = new RouteMatch { Path = "{**catch-all}" } }]));
        var traffic = new TrafficRecorder(engine, _services.GetRequiredService<ILoggerFactory>(), _services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        _deps = new FastHits.Dependencies(engine, routes, traffic);

        var key = CacheKey.Build(Samples.Scheme, Samples.Host, Samples.PathAndQuery, options.Defaults);
        _request = Encoding.ASCII.GetBytes($"GET {Samples.PathAndQuery} HTTP/1.1\r\nHost: {Samples.Host}\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\r\n");
        foreach (var coding in new[] { "identity", "gzip", "br" })
        {
            var request = new Microsoft.AspNetCore.Http.HeaderDictionary { ["Accept-Encoding"] = coding };
            var entry = Samples.Stored(Size, "Accept-Encoding", request, contentEncoding: coding == "identity" ? null : coding);
            Stored(engine, key, entry, coding);
            engine.Memory.Set(key, entry);
        }

        if (!Run()) throw new InvalidOperationException("expected a fast hit");
    }

    /// <summary>A hook for a case that marks what it stores.</summary>
    protected virtual void Stored(CacheEngine engine, string key, CachedResponse entry, string coding)
    {
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    [Benchmark(Description = "fast hit of a negotiated (br) representation")]
    public bool FastHit() => Run();

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
