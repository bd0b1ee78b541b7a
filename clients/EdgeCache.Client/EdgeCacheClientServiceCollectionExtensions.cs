using System.Net;
using EdgeCache.Client.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="EdgeCache.Client.EdgeCacheClient"/>.</summary>
public static class EdgeCacheClientServiceCollectionExtensions
{
    /// <summary>Registers the client with settings from <paramref name="configure"/>, validated when the host starts.</summary>
    /// <returns>The typed client's builder, to add handlers or replace the primary one.</returns>
    public static IHttpClientBuilder AddEdgeCacheClient(this IServiceCollection services, Action<EdgeCache.Client.EdgeCacheClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<EdgeCache.Client.EdgeCacheClientOptions>().Configure(configure);
        return Add(services, EdgeCache.Client.EdgeCacheClientOptions.SectionName);
    }

    /// <summary>Registers the client with settings bound from <paramref name="section"/> (e.g.
    /// <c>configuration.GetSection("EdgeCacheClient")</c>), validated when the host starts; messages name the section's path.</summary>
    public static IHttpClientBuilder AddEdgeCacheClient(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        services.AddOptions<EdgeCache.Client.EdgeCacheClientOptions>().Bind(section);
        return Add(services, section is IConfigurationSection s ? s.Path : EdgeCache.Client.EdgeCacheClientOptions.SectionName);
    }

    private static IHttpClientBuilder Add(IServiceCollection services, string section)
    {
        services.AddOptions<EdgeCache.Client.EdgeCacheClientOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EdgeCache.Client.EdgeCacheClientOptions>>(new ClientOptionsValidator(section)));
        var builder = services.AddHttpClient<EdgeCache.Client.EdgeCacheClient>((sp, http) =>
        {
            http.BaseAddress = WithTrailingSlash(sp.GetRequiredService<IOptions<EdgeCache.Client.EdgeCacheClientOptions>>().Value.BaseAddress!);
            http.Timeout = Timeout.InfiniteTimeSpan; // the pipeline's timeouts rule
        });
        builder.RedactLoggedHeaders(["Authorization"]);
        builder.AddResilienceHandler("edgecache", static (pipeline, context) =>
        {
            var o = context.ServiceProvider.GetRequiredService<IOptions<EdgeCache.Client.EdgeCacheClientOptions>>().Value;

            // Not the standard handler: its circuit breaker would fail every purge fast after a few 503s
            // (the API has one job and says when to come back), its client-side rate limiter duplicates the
            // API's own (429 with Retry-After), and its fixed attempt timeout would cut a purge's wait short.
            pipeline.AddTimeout(new HttpTimeoutStrategyOptions { TimeoutGenerator = args => ValueTask.FromResult(o.Timeout + Wait(args.Context)) });
            if (o.MaxRetries > 0)
            {
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = o.MaxRetries,
                    Delay = o.RetryDelay,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    MaxDelay = TimeSpan.FromSeconds(30),
                    ShouldRetryAfterHeader = true,

                    // Every call carries one Idempotency-Key on all its attempts, so retrying a POST whose answer
                    // was lost replays its purge rather than publishing another; 409 is the API saying the
                    // first attempt is still being published.
                    ShouldHandle = args => ValueTask.FromResult(HttpClientResiliencePredicates.IsTransient(args.Outcome) || args.Outcome.Result?.StatusCode == HttpStatusCode.Conflict),
                });
            }

            pipeline.AddTimeout(new HttpTimeoutStrategyOptions { TimeoutGenerator = args => ValueTask.FromResult(o.AttemptTimeout + Wait(args.Context)) });
        });
        return builder;
    }

    private static TimeSpan Wait(ResilienceContext context) =>
        context.GetRequestMessage() is { } request && request.Options.TryGetValue(EdgeCache.Client.EdgeCacheClient.WaitKey, out var wait) ? wait : TimeSpan.Zero;

    /// <summary>So relative paths resolve under a base with a path (<c>https://x/api</c> → <c>https://x/api/purge</c>).</summary>
    private static Uri WithTrailingSlash(Uri uri) => uri.AbsolutePath.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");
}
