using System.Diagnostics.Metrics;
using EdgeCache.Client;
using EdgeCache.Client.Internal;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Makes the purge API's event feed this application's HybridCache backplane.</summary>
public static class EdgeCacheInvalidationHybridCacheBuilderExtensions
{
    /// <summary>
    /// Follows the purge API's event feed for the client's key (<c>AddEdgeCacheClient</c> gives the address
    /// and key) and applies every purge to this instance's HybridCache; while this instance cannot
    /// confirm within <see cref="EdgeCacheInvalidationOptions.Lease"/> that it has applied every
    /// event, HybridCache bypasses L1. Inject <see cref="EdgeCacheInvalidation"/> to invalidate.
    /// </summary>
    public static IHybridCacheBuilder AddEdgeCacheInvalidation(this IHybridCacheBuilder builder, Action<EdgeCacheInvalidationOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var o = builder.Services.AddOptions<EdgeCacheInvalidationOptions>();
        if (configure is not null) o.Configure(configure);
        return Add(builder, EdgeCacheInvalidationOptions.SectionName);
    }

    /// <summary>As <see cref="AddEdgeCacheInvalidation(IHybridCacheBuilder, Action{EdgeCacheInvalidationOptions}?)"/>,
    /// with settings bound from <paramref name="section"/> (e.g. <c>configuration.GetSection("EdgeCacheInvalidation")</c>);
    /// <paramref name="configure"/> may then set what configuration cannot (<see cref="EdgeCacheInvalidationOptions.KeysForUrl"/>).</summary>
    public static IHybridCacheBuilder AddEdgeCacheInvalidation(this IHybridCacheBuilder builder, IConfiguration section, Action<EdgeCacheInvalidationOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(section);
        var o = builder.Services.AddOptions<EdgeCacheInvalidationOptions>().Bind(section);
        if (configure is not null) o.Configure(configure);
        return Add(builder, section is IConfigurationSection s ? s.Path : EdgeCacheInvalidationOptions.SectionName);
    }

    private static IHybridCacheBuilder Add(IHybridCacheBuilder builder, string section)
    {
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(BackplaneState))) return builder; // once
        services.AddOptions<EdgeCacheInvalidationOptions>().ValidateOnStart();
        services.AddSingleton<IValidateOptions<EdgeCacheInvalidationOptions>>(sp => new InvalidationOptionsValidator(section, sp.GetRequiredService<IOptions<EdgeCacheClientOptions>>()));
        services.AddHttpClient(HttpInvalidationFeed.HttpClientName, (sp, http) =>
        {
            var baseAddress = sp.GetRequiredService<IOptions<EdgeCacheClientOptions>>().Value.BaseAddress!;
            http.BaseAddress = baseAddress.AbsolutePath.EndsWith('/') ? baseAddress : new Uri(baseAddress.AbsoluteUri + "/");
            http.Timeout = Timeout.InfiniteTimeSpan; // each poll has its own
        }).RedactLoggedHeaders(["Authorization"]);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new BackplaneState(sp.GetRequiredService<IOptions<EdgeCacheInvalidationOptions>>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new BackplaneMetrics(sp.GetRequiredService<BackplaneState>(), sp.GetService<IMeterFactory>()));
        services.TryAddSingleton<IInvalidationFeed, HttpInvalidationFeed>();
        services.AddSingleton(sp => new EventApplier(sp.GetRequiredService<HybridCache>(), sp.GetRequiredService<IOptions<EdgeCacheInvalidationOptions>>()));
        services.AddSingleton(sp => new EdgeCacheInvalidation(sp.GetRequiredService<BackplaneState>(), sp.GetRequiredService<EventApplier>(), sp, sp.GetRequiredService<IOptions<EdgeCacheInvalidationOptions>>().Value.InstanceId));
        services.AddHostedService<InvalidationFeedService>();

        // The application's HybridCache, wrapped so that L1 is bypassed while this instance is unconfirmed.
        var registered = services.LastOrDefault(d => d.ServiceType == typeof(HybridCache) && !d.IsKeyedService)
            ?? throw new InvalidOperationException("AddEdgeCacheInvalidation needs a HybridCache: call services.AddHybridCache() first.");
        services.Remove(registered);
        services.AddSingleton(sp => new InnerHybridCache(Create(sp, registered)));
        services.AddSingleton<HybridCache>(sp => new LeaseGuardedHybridCache(
            sp.GetRequiredService<InnerHybridCache>().Cache,
            sp.GetRequiredService<BackplaneState>(),
            sp.GetService<IOptions<HybridCacheOptions>>()?.Value.DefaultEntryOptions));
        return builder;
    }

    private static HybridCache Create(IServiceProvider sp, ServiceDescriptor d) =>
        (HybridCache)(d.ImplementationInstance
            ?? d.ImplementationFactory?.Invoke(sp)
            ?? ActivatorUtilities.CreateInstance(sp, d.ImplementationType!));

    /// <summary>The HybridCache the application registered, owned (and disposed) by the container.</summary>
    private sealed class InnerHybridCache(HybridCache cache) : IDisposable
    {
        public HybridCache Cache => cache;

        public void Dispose() => (cache as IDisposable)?.Dispose();
    }

    private sealed class InvalidationOptionsValidator(string section, IOptions<EdgeCacheClientOptions> client) : IValidateOptions<EdgeCacheInvalidationOptions>
    {
        public ValidateOptionsResult Validate(string? name, EdgeCacheInvalidationOptions options)
        {
            var errors = options.Validate(section).ToList();
            var c = client.Value;
            if (c.BaseAddress is null || string.IsNullOrWhiteSpace(c.ApiKey)) errors.Add($"{section}: the backplane reads the purge API's address and key from EdgeCacheClient: call services.AddEdgeCacheClient(...) with BaseAddress and ApiKey.");
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
