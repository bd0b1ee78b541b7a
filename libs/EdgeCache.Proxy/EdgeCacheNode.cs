using System.Net;
using EdgeCache.Engine;
using EdgeCache.Hosting;
using EdgeCache.Proxy.Internal;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.LoadBalancing;

namespace EdgeCache.Proxy;

/// <summary>
/// Builds an edge or shield node: Kestrel on the traffic and admin endpoints, the cache engine,
/// and YARP routes and clusters from the <c>ReverseProxy</c> configuration section. The hosts'
/// Program.cs files and the functional tests both start nodes through this.
/// </summary>
public static class EdgeCacheNode
{
    /// <summary>Environment variable naming an extra JSON configuration file for this node.</summary>
    public const string ConfigFileVariable = "EDGECACHE_CONFIG_FILE";

    private const string AdminConnectionItem = "EdgeCache.Admin";

    public static WebApplication Build(NodeRole role, string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

        // A node file (deploy/local writes one per node) layered over appsettings.json; command-line
        // arguments still win, as they are added again last.
        if (Environment.GetEnvironmentVariable(ConfigFileVariable) is { Length: > 0 } file)
        {
            builder.Configuration.AddReloadableJsonFile(file);
            builder.Configuration.AddCommandLine(args);
        }

        // ASP.NET Core opens a log scope, and with it an Activity, for every request whenever its hosting
        // logger is enabled at all; the node logs its own events and an optional access log, so that
        // per-request cost (a hit's largest after the socket work) buys nothing here.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        configure?.Invoke(builder);
        AddServices(builder, role);
        var app = builder.Build();
        ConfigurePipeline(app);
        return app;
    }

    private static void AddServices(WebApplicationBuilder builder, NodeRole role)
    {
        var services = builder.Services;
        services.AddOptions<EdgeCacheOptions>()
            .Bind(builder.Configuration.GetSection(EdgeCacheOptions.SectionName))
            .PostConfigure(o => o.Role = role)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<EdgeCacheOptions>, EdgeCacheOptionsValidator>();
        services.TryAddSingleton(CacheClock.System);
        services.TryAddSingleton(Invalidation.InvalidationClock.System);
        services.AddSingleton<Invalidation.InvalidationState>();
        services.AddSingleton<CacheEngine>();
        services.AddSingleton<UpstreamClient>();
        services.AddSingleton<UpstreamPolicies>();
        services.AddSingleton<Replication>();
        services.AddSingleton<NodeEndpoints>();
        services.AddSingleton<StatusPage>();
        services.AddSingleton<Tls.ServerCertificates>();
        services.AddHostedService(sp => sp.GetRequiredService<Tls.ServerCertificates>());
        services.AddSingleton<TrafficRecorder>();
        services.AddSingleton<RoutedHosts>();
        services.AddSingleton<Invalidation.InvalidationService>();
        services.AddHostedService(sp => sp.GetRequiredService<Invalidation.InvalidationService>());
        services.AddSingleton<ILoadBalancingPolicy, ConsistentHashLoadBalancingPolicy>();
        services.AddSingleton<Tls.UpstreamTls>();
        services.AddSingleton<Yarp.ReverseProxy.Configuration.IProxyConfigFilter>(sp => sp.GetRequiredService<Tls.UpstreamTls>());
        services.AddSingleton<IForwarderHttpClientFactory, TimeoutHttpClientFactory>();
        services.AddSingleton<ConfigurationReloader>();
        services.AddHostedService(sp => sp.GetRequiredService<ConfigurationReloader>());
        services.AddSingleton<Invalidation.ShieldDiscovery>();
        services.AddHostedService(sp => sp.GetRequiredService<Invalidation.ShieldDiscovery>());
        services.AddSingleton<Yarp.ReverseProxy.Configuration.IProxyConfigProvider>(sp => sp.GetRequiredService<Invalidation.ShieldDiscovery>());
        services.AddSingleton<Yarp.ReverseProxy.Configuration.IProxyConfigFilter>(sp => sp.GetRequiredService<Invalidation.ShieldDiscovery>());
        services.AddReverseProxy().LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"));

        // YARP's TransportFailureRate passive policy: its detection window, minimal request count and
        // default failure-rate limit, which YARP only takes from code, from EdgeCache:TransportFailureRate.
        services.Configure<Yarp.ReverseProxy.Health.TransportFailureRateHealthPolicyOptions>(builder.Configuration.GetSection(EdgeCacheOptions.SectionName + ":TransportFailureRate"));
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(CacheMetrics.MeterName)
            .AddMeter("Microsoft.AspNetCore.Hosting") // http.server.request.duration: what clients see
            .AddMeter("System.Net.Http") // http.client.request.duration: upstream latency, per upstream address
            .AddMeter("System.Runtime") // dotnet.gc.*, dotnet.thread_pool.*: pauses and starvation behind a slow request or purge
            .AddPrometheusExporter());

        var listen = builder.Configuration.GetSection(EdgeCacheOptions.SectionName + ":Listen").Get<ListenSettings>() ?? new ListenSettings();
        var shutdown = builder.Configuration.GetValue<TimeSpan?>(EdgeCacheOptions.SectionName + ":ShutdownTimeout") ?? TimeSpan.FromSeconds(30);
        services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdown);

        if (listen.InlineScheduling)
        {
            // Read by the socket engine when the first socket is used, which has not happened yet.
            Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
        }

        if (listen.InlineScheduling || listen.PreallocateReceiveBuffers)
        {
            builder.WebHost.UseSockets(o =>
            {
                o.UnsafePreferInlineScheduling = listen.InlineScheduling;
                o.WaitForDataBeforeAllocatingBuffer = !listen.PreallocateReceiveBuffers;
            });
        }

        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            kestrel.AddServerHeader = false;
            if (listen.ResponseBufferBytes > 0) kestrel.Limits.MaxResponseBufferSize = listen.ResponseBufferBytes;
            ApplyRequestLimits(kestrel.Limits, listen);
            var endpoints = kestrel.ApplicationServices.GetRequiredService<NodeEndpoints>();
            var fast = listen.FastHits ? new FastHits(kestrel.ApplicationServices, kestrel.Limits) : null;
            var certificates = kestrel.ApplicationServices.GetRequiredService<Tls.ServerCertificates>();
            foreach (var url in listen.Traffic)
            {
                Listen(kestrel, url, certificates, admin: false, h2c: false, endpoints, fast);
            }

            foreach (var url in listen.Http2Cleartext)
            {
                Listen(kestrel, url, certificates, admin: false, h2c: true, endpoints, null);
            }

            if (!string.IsNullOrEmpty(listen.Admin))
            {
                Listen(kestrel, listen.Admin, certificates, admin: true, h2c: false, endpoints, null);
            }
        });
    }

    /// <summary>Request and HTTP/2 limits from Listen settings (validated at start-up; out-of-range values never get here
    /// as Kestrel's own setters would throw first with a message that does not name the setting).</summary>
    private static void ApplyRequestLimits(KestrelServerLimits limits, ListenSettings listen)
    {
        if (listen.Http2MaxStreams is >= 1 and <= 1000) limits.Http2.MaxStreamsPerConnection = listen.Http2MaxStreams;
        if (listen.Http2MaxHeaderFieldBytes is >= 4096 and <= 1024 * 1024) limits.Http2.MaxRequestHeaderFieldSize = listen.Http2MaxHeaderFieldBytes;
        if (listen.MaxRequestHeadersBytes is >= 4096 and <= 1024 * 1024) limits.MaxRequestHeadersTotalSize = listen.MaxRequestHeadersBytes;
        if (listen.MaxRequestHeaderCount is >= 1 and <= 10000) limits.MaxRequestHeaderCount = listen.MaxRequestHeaderCount;
    }

    private static void Listen(KestrelServerOptions kestrel, string url, Tls.ServerCertificates certificates, bool admin, bool h2c, NodeEndpoints endpoints, FastHits? fast)
    {
        // Invalid URLs are reported by EdgeCacheOptionsValidator, which names the setting.
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")) return;
        var address = uri.Host is "localhost" ? IPAddress.Loopback : IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) ? ip : IPAddress.Loopback;
        kestrel.Listen(address, uri.Port, lo =>
        {
            // HTTP/2 needs ALPN (TLS) or prior knowledge (a dedicated h2c endpoint).
            lo.Protocols = h2c ? HttpProtocols.Http2 : HttpProtocols.Http1;
            var tls = uri.Scheme == "https" && !admin && certificates.Configured;
            if (tls)
            {
                // A certificate per connection, by SNI, from the set in force (it reloads); TLS 1.2 and 1.3,
                // ALPN h2 and http/1.1, resumption on: see Tls.CertificateFiles.ServerOptions. The handshake
                // puts the certificate's TlsConnectionNames on the connection for the 421 rule.
                lo.Protocols = HttpProtocols.Http1AndHttp2;
                lo.UseHttps(certificates.HandshakeOptions());
            }

            if (admin)
            {
                lo.Use(next => connection =>
                {
                    connection.Items[AdminConnectionItem] = true;
                    return next(connection);
                });
                endpoints.Admin = lo;
            }
            else
            {
                // HTTP/1.1, plain or TLS (after UseHttps it runs on the decrypted stream and leaves
                // connections that chose h2 by ALPN to Kestrel); h2c always takes Kestrel's full path.
                if (fast is not null && !h2c) lo.Use(fast.Wrap);
                endpoints.AddTraffic(lo, tls, h2c);
            }
        });
    }

    private static void ConfigurePipeline(WebApplication app)
    {
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        var options = app.Services.GetRequiredService<IOptions<EdgeCacheOptions>>();
        var engine = app.Services.GetRequiredService<CacheEngine>();
        var invalidation = app.Services.GetRequiredService<Invalidation.InvalidationService>();
        CacheMetrics.Register(app.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), engine, invalidation, app.Services.GetRequiredService<Yarp.ReverseProxy.IProxyStateLookup>(), app.Services.GetRequiredService<Tls.ServerCertificates>());
        var status = app.Services.GetRequiredService<StatusPage>();
        lifetime.ApplicationStarted.Register(status.Start);
        app.UseWhen(IsAdmin, admin =>
        {
            // Every admin endpoint is read-only: GET and HEAD, nothing else.
            admin.Use((ctx, next) =>
            {
                if (HttpMethods.IsGet(ctx.Request.Method) || HttpMethods.IsHead(ctx.Request.Method)) return next(ctx);
                ctx.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
                ctx.Response.Headers.Allow = "GET, HEAD";
                ctx.Response.Headers.CacheControl = "no-store";
                ctx.Response.ContentType = "text/plain; charset=utf-8";
                return ctx.Response.WriteAsync($"405 Method Not Allowed: the admin endpoints answer GET and HEAD only, not {ctx.Request.Method}.\n");
            });
            admin.UseOpenTelemetryPrometheusScrapingEndpoint();
            var proxyState = app.Services.GetRequiredService<Yarp.ReverseProxy.IProxyStateLookup>();
            admin.Run(ctx => AdminAsync(ctx, lifetime, engine, status, invalidation, proxyState));
        });
        app.UseMiddleware<TrafficObserver>();
        app.UseRouting();
        app.UseMiddleware<CacheLookupMiddleware>();
        app.MapReverseProxy(pipeline => pipeline.UseMiddleware<CacheForwarderMiddleware>());
        app.Services.GetRequiredService<RoutedHosts>().Track(
            new Microsoft.AspNetCore.Routing.CompositeEndpointDataSource(((Microsoft.AspNetCore.Routing.IEndpointRouteBuilder)app).DataSources),
            app.Services.GetRequiredService<Yarp.ReverseProxy.IProxyStateLookup>());

        lifetime.ApplicationStarted.Register(() =>
        {
            var endpoints = app.Services.GetRequiredService<NodeEndpoints>();
            var o = options.Value;
            Log.Listening(app.Logger, o.Role, o.NodeId, string.Join(", ", endpoints.Traffic.Select(t => t.IPEndPoint?.ToString())), endpoints.Admin?.IPEndPoint?.ToString() ?? "off");
            ReportHostsWithoutCertificate(app);
        });
    }

    /// <summary>At start-up, every configured host (routes, per-host settings) that no certificate covers: a warning each.</summary>
    private static void ReportHostsWithoutCertificate(WebApplication app)
    {
        var certificates = app.Services.GetRequiredService<Tls.ServerCertificates>();
        var o = app.Services.GetRequiredService<IOptions<EdgeCacheOptions>>().Value;
        if (!certificates.Configured || !o.Listen.Traffic.Any(t => t.StartsWith("https:", StringComparison.OrdinalIgnoreCase))) return;
        var fallback = certificates.Select("unknown.invalid") is { } d ? "the default certificate (" + d.PrimaryName + ")" : "a refused handshake";
        var hosts = Tls.ServerCertificates.ConfiguredHosts(app.Services.GetRequiredService<Yarp.ReverseProxy.IProxyStateLookup>(), o);
        foreach (var host in certificates.Uncovered(hosts)) Log.HostWithoutCertificate(app.Logger, host, fallback);
    }

    private static bool IsAdmin(HttpContext ctx) =>
        ctx.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(AdminConnectionItem) == true;

    private static Task AdminAsync(HttpContext ctx, IHostApplicationLifetime lifetime, CacheEngine engine, StatusPage status, Invalidation.InvalidationService invalidation, Yarp.ReverseProxy.IProxyStateLookup proxyState)
    {
        var destinations = proxyState.GetClusters().SelectMany(c => c.DestinationsState.AllDestinations).ToList();
        var usable = destinations.Count(d => !StatusPage.IsUnhealthy(d));
        var upstreams = destinations.Count == 0 ? "none configured"
            : usable == 0 ? $"0 of {destinations.Count} healthy (serving stored objects only)"
            : $"{usable} of {destinations.Count} healthy";
        var stream = !engine.Options.Invalidation.Enabled ? "off"
            : invalidation.Degraded is { } why ? $"degraded: {why} (applied {engine.AppliedSeq}; {(engine.IsCurrent ? "current" : "not current: revalidating stored objects")})"
            : engine.IsCurrent ? $"current at sequence {engine.AppliedSeq}" : $"catching up (applied {engine.AppliedSeq})";
        var disk = engine.DiskOpenError is { } error ? "failing: could not open the store: " + error
            : engine.Disk is null ? "off"
            : engine.Disk.Healthy ? "ok" : "failing (serving from memory and upstream)";
        ctx.Response.ContentType = "text/plain; charset=utf-8";
        ctx.Response.Headers.CacheControl = "no-store";
        switch (ctx.Request.Path.Value)
        {
            case "/":
                return StatusPage.WritePageAsync(ctx);
            case "/status.json":
                return status.WriteJsonAsync(ctx);
            case "/healthz":
                return ctx.Response.WriteAsync($"ok\ndisk: {disk}\ninvalidation: {stream}\nupstreams: {upstreams}\n");
            case "/readyz":
                // Ready: started, the store recovered (the engine opens it before start), caught up
                // with the invalidation stream once (or NATS is unreachable: ready, but degraded); it
                // announces itself to membership within 20 ms of that. And it has upstreams to send misses to. With upstreams configured but all unhealthy it
                // stays ready, degraded: its stored objects can still be served.
                var ready = lifetime.ApplicationStarted.IsCancellationRequested && !lifetime.ApplicationStopping.IsCancellationRequested && invalidation.Started && destinations.Count > 0;
                var degraded = invalidation.Degraded is not null || usable == 0;
                ctx.Response.StatusCode = ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
                return ctx.Response.WriteAsync((ready ? degraded ? "ready (degraded)\n" : "ready\n" : "not ready\n") + $"disk: {disk}\ninvalidation: {stream}\nupstreams: {upstreams}\n");
            default:
                ctx.Response.StatusCode = StatusCodes.Status404NotFound;
                return ctx.Response.WriteAsync("Admin endpoints: / (status page), /status.json, /healthz, /readyz, /metrics\n");
        }
    }
}

/// <summary>The endpoints a node listens on; after start-up they carry the bound ports (port 0 in tests).</summary>
public sealed class NodeEndpoints
{
    private readonly Dictionary<ListenOptions, (bool Tls, bool H2c)> _kinds = [];

    public List<ListenOptions> Traffic { get; } = [];

    public ListenOptions? Admin { get; set; }

    internal void AddTraffic(ListenOptions listen, bool tls, bool h2c)
    {
        Traffic.Add(listen);
        _kinds[listen] = (tls, h2c);
    }

    /// <summary>Whether the endpoint takes TLS (an https URL with certificates configured).</summary>
    public bool IsTls(ListenOptions listen) => _kinds.TryGetValue(listen, out var kind) && kind.Tls;

    /// <summary>The traffic endpoint other nodes are told to reach (membership): the first that speaks
    /// HTTP/1.1, so not the h2c endpoint (prior-knowledge HTTP/2 only), with its own scheme.</summary>
    public ListenOptions? AdvertisedTraffic => Traffic.FirstOrDefault(t => !_kinds.TryGetValue(t, out var kind) || !kind.H2c) ?? Traffic.FirstOrDefault();

    public Uri TrafficUri(int index = 0) => new($"{(IsTls(Traffic[index]) ? "https" : "http")}://{Traffic[index].IPEndPoint}");

    public Uri? AdminUri => Admin is null ? null : new Uri($"http://{Admin.IPEndPoint}");
}
