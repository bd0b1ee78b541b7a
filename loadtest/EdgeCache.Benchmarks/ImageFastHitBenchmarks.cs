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
/// <see cref="FastHitBenchmarks"/>' variant case for an image variant with <c>format=auto</c> (issue 19): three
/// variants under <c>Vary: Accept</c> (AVIF, WebP, the original's format), and a browser's Accept negotiated to
/// one of them from the request's bytes. A variant hit must cost what any hit costs.
/// </summary>
[MemoryDiagnoser]
public class ImageFastHitBenchmarks
{
    private const string Path = "/_img/width=400,format=auto/photos/cat.jpg";
    private byte[] _request = [];
    private readonly byte[] _scratch = new byte[FastHits.ScratchBytes];
    private readonly List<ArraySegment<byte>> _segments = new(4);
    private readonly DefaultConnectionContext _connection = new();
    private FastHits.Dependencies _deps = null!;
    private ServiceProvider _services = null!;

    [Params(10 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _services = new ServiceCollection().AddMetrics().AddLogging().BuildServiceProvider();
        var options = new EdgeCacheOptions { NodeId = "bench-edge", Role = NodeRole.Edge };
        options.Defaults.Images.Enabled = true;
        var engine = new CacheEngine(Options.Create(options), new CacheClock(new FixedClock(Samples.Now.AddSeconds(30))), new EdgeCache.Proxy.Invalidation.InvalidationState(Options.Create(options), EdgeCache.Proxy.Invalidation.InvalidationClock.System), NullLogger<CacheEngine>.Instance, NullLoggerFactory.Instance);
        var routes = new RoutedHosts();
        routes.Use(RoutedHosts.Build([new RouteConfig { RouteId = "sites", ClusterId = "shields", Match = new RouteMatch { Path = "{**catch-all}" } }]));
        var traffic = new TrafficRecorder(engine, _services.GetRequiredService<ILoggerFactory>(), _services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        _deps = new FastHits.Dependencies(engine, routes, traffic);

        if (ImageRequest.TryParse(Path, options.Defaults.Images, out var image, out _) != ImageParse.Image) throw new InvalidOperationException("not an image URL");
        var key = CacheKey.Build(Samples.Scheme, Samples.Host, image!.CanonicalPathAndQuery, options.Defaults);
        _request = Encoding.ASCII.GetBytes($"GET {Path} HTTP/1.1\r\nHost: {Samples.Host}\r\nAccept: image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8\r\n\r\n");
        foreach (var accept in new[] { ImageRequest.AcceptAvif, ImageRequest.AcceptWebp, ImageRequest.AcceptAny })
        {
            engine.Memory.Set(key, Samples.Stored(Size, "Accept", new Microsoft.AspNetCore.Http.HeaderDictionary { ["Accept"] = accept }));
        }

        if (!Run()) throw new InvalidOperationException("expected a fast hit");
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    [Benchmark(Description = "fast hit of a format=auto image variant (Accept negotiated)")]
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
