using System.Collections.Concurrent;
using EdgeCache.Client;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>
/// One instance of a publisher's application: its own host and ServiceProvider with a real HybridCache
/// and the EdgeCache backplane (<c>AddHybridCache().AddEdgeCacheInvalidation()</c>) polling the real
/// purge API. Its "database" is shared with the other instances of the test; <see cref="GetAsync"/>
/// reads a product through HybridCache, tagged <c>product-{id}</c>, and counts the database reads.
/// </summary>
public sealed class AppInstance : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly ConcurrentDictionary<string, string> _database;
    private int _reads;

    private AppInstance(IHost host, ConcurrentDictionary<string, string> database)
    {
        _host = host;
        _database = database;
    }

    public HybridCache Cache => _host.Services.GetRequiredService<HybridCache>();

    public EdgeCacheInvalidation Backplane => _host.Services.GetRequiredService<EdgeCacheInvalidation>();

    public string Id => Backplane.InstanceId;

    /// <summary>Database reads made by this instance's HybridCache factory.</summary>
    public int Reads => Volatile.Read(ref _reads);

    public static async Task<AppInstance> StartAsync(Uri api, string key, string instanceId, ConcurrentDictionary<string, string> database, Action<EdgeCacheInvalidationOptions>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddEdgeCacheClient(o =>
        {
            o.BaseAddress = api;
            o.ApiKey = key;
        });
        builder.Services.AddHybridCache().AddEdgeCacheInvalidation(o =>
        {
            o.InstanceId = instanceId;
            o.PollTimeout = TimeSpan.FromSeconds(1);
            o.Lease = TimeSpan.FromSeconds(5);
            o.RetryDelay = TimeSpan.FromMilliseconds(100);
            o.MaxRetryDelay = TimeSpan.FromMilliseconds(200);
            configure?.Invoke(o);
        });
        var host = builder.Build();
        await host.StartAsync();
        var app = new AppInstance(host, database);
        await Topology.WaitUntilAsync(() => app.Backplane.IsConfirmed, TimeSpan.FromSeconds(10), instanceId + " confirms with the feed");
        return app;
    }

    /// <summary>The product through HybridCache (L1 here), from the database on a miss.</summary>
    public ValueTask<string> GetAsync(string id) => Cache.GetOrCreateAsync(
        "product:" + id,
        ct =>
        {
            Interlocked.Increment(ref _reads);
            return ValueTask.FromResult(_database[id]);
        },
        new HybridCacheEntryOptions { Expiration = TimeSpan.FromHours(1), LocalCacheExpiration = TimeSpan.FromHours(1) },
        ["product-" + id]);

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
