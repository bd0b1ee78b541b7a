using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeCache.Engine;
using EdgeCache.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// Applies configuration changes without a restart. Routes and clusters (the <c>ReverseProxy</c>
/// section) are YARP's: it reloads them itself and keeps the old ones when the new ones are invalid.
/// This applies the per-host cache settings (<c>EdgeCache:Defaults</c>, <c>EdgeCache:Hosts</c>) after
/// validating the whole <c>EdgeCache</c> section as start-up does; an invalid change is refused and
/// logged, and the settings in force stay. Settings that only take effect at start are reported.
/// </summary>
internal sealed class ConfigurationReloader(IConfiguration configuration, CacheEngine engine, ILogger<ConfigurationReloader> logger) : IHostedService, IDisposable
{
    private static readonly JsonSerializerOptions Compare = new() { WriteIndented = false };
    private ConfigurationWatch? _watch;
    private int _applied;
    private int _refused;

    /// <summary>Reloads applied since start.</summary>
    public int Applied => Volatile.Read(ref _applied);

    /// <summary>Changes refused since start (invalid settings, or a file that could not be read).</summary>
    public int Refused => Volatile.Read(ref _refused);

    /// <summary>Why the last change was refused, or null.</summary>
    public string? LastRefusal { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _watch = new ConfigurationWatch(configuration, Reload, Refuse);
        return Task.CompletedTask;
    }

    private void Reload()
    {
        EdgeCacheOptions fresh;
        try
        {
            fresh = new EdgeCacheOptions();
            configuration.GetSection(EdgeCacheOptions.SectionName).Bind(fresh);
            fresh.Role = engine.Options.Role;
        }
        catch (InvalidOperationException ex)
        {
            Refuse(ex.Message + (ex.InnerException is { } inner ? " " + inner.Message : ""));
            return;
        }

        var result = new EdgeCacheOptionsValidator { CheckCertificateFiles = false }.Validate(null, fresh);
        if (result.Failed)
        {
            Refuse(string.Join(" ", result.Failures));
            return;
        }

        engine.HostPolicies.Apply(fresh);
        Interlocked.Increment(ref _applied);
        LastRefusal = null;
        Log.ConfigurationReloaded(logger, fresh.Hosts.Count);
        if (RestartOnly(engine.Options, fresh) is { Length: > 0 } pending) Log.ConfigurationNeedsRestart(logger, pending);
    }

    private void Refuse(string why)
    {
        Interlocked.Increment(ref _refused);
        LastRefusal = why;
        Log.ConfigurationRefused(logger, why);
    }

    /// <summary>Top-level settings that changed but are read only at start (everything but Defaults and Hosts).</summary>
    private static string RestartOnly(EdgeCacheOptions running, EdgeCacheOptions fresh)
    {
        var a = JsonSerializer.SerializeToNode(running, Compare)!.AsObject();
        var b = JsonSerializer.SerializeToNode(fresh, Compare)!.AsObject();
        var changed = new List<string>();
        foreach (var (name, value) in b)
        {
            if (name is nameof(EdgeCacheOptions.Defaults) or nameof(EdgeCacheOptions.Hosts)) continue;
            if (!JsonNode.DeepEquals(value, a[name])) changed.Add(name);
        }

        return string.Join(", ", changed);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _watch?.Dispose();
}
