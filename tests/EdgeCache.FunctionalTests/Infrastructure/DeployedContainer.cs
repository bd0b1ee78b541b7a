using System.Text;
using EdgeCache.Proxy;
using EdgeCache.PurgeApi;
using Microsoft.Extensions.Configuration;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>An HTTP GET that something outside the container makes: a probe, or a Prometheus scrape.</summary>
internal sealed record HttpGetCheck(string What, string Path, string Port);

/// <summary>
/// One container as Docker Compose or Kubernetes would run it (for a StatefulSet, one per pod):
/// its image, the environment the deployment gives it, the node file that <c>EDGECACHE_CONFIG_FILE</c>
/// names as mounted, its declared ports, probes and scrapes, and the name other containers reach it by.
/// </summary>
internal sealed class DeployedContainer
{
    public required string Platform { get; init; }

    /// <summary>The compose service, or the Kubernetes pod (<c>shield-0</c>).</summary>
    public required string Name { get; init; }

    /// <summary>The file that declares it, for messages.</summary>
    public required string Source { get; init; }

    /// <summary>The image's Dockerfile, when the image is built from this repository.</summary>
    public DockerImageFile? Image { get; init; }

    public DeployRole Role => Image?.Role ?? DeployRole.Other;

    /// <summary>Variables the deployment sets, in order (null where the value is only known at run time).</summary>
    public required IReadOnlyList<KeyValuePair<string, string?>> DeclaredEnvironment { get; init; }

    /// <summary>The container's environment: the image's ENV, then what the deployment sets.</summary>
    public IReadOnlyDictionary<string, string?> Environment
    {
        get
        {
            var env = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var (k, v) in Image?.Environment ?? []) env[k] = v;
            foreach (var (k, v) in DeclaredEnvironment) env[k] = v;
            return env;
        }
    }

    /// <summary>The text of the file <c>EDGECACHE_CONFIG_FILE</c> names, as mounted into the container.</summary>
    public string? ConfigFileText { get; init; }

    /// <summary>Why <c>EDGECACHE_CONFIG_FILE</c> could not be resolved, or null.</summary>
    public string? ConfigFileProblem { get; init; }

    /// <summary>Container-side ports the deployment declares (compose: the container side of <c>ports</c>).</summary>
    public required IReadOnlyList<int> Ports { get; init; }

    public required IReadOnlyDictionary<string, int> NamedPorts { get; init; }

    public required IReadOnlyList<HttpGetCheck> Probes { get; init; }

    public required IReadOnlyList<HttpGetCheck> Scrapes { get; init; }

    /// <summary>The DNS name other containers reach this one at (compose service name; a StatefulSet
    /// pod's name through its headless Service), or null when it has no stable one.</summary>
    public string? HostName { get; init; }

    public override string ToString() => $"{Platform} {Name} ({Source})";

    public int? ResolvePort(string port) =>
        int.TryParse(port, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : NamedPorts.TryGetValue(port, out var p) ? p : null;

    /// <summary>
    /// The configuration the process would see, layered as the hosts layer it: the host project's
    /// appsettings.json, the environment (<c>__</c> as <c>:</c>), then the node file, which wins.
    /// </summary>
    public IConfigurationRoot Configuration()
    {
        var builder = new ConfigurationBuilder();
        if (Image?.PublishedProject is { } project)
        {
            var settings = Path.Combine(Path.GetDirectoryName(RepositoryFiles.Full(project))!, "appsettings.json");
            if (File.Exists(settings)) builder.AddJsonFile(settings, optional: false);
        }

        builder.AddInMemoryCollection(Environment.Select(kv => new KeyValuePair<string, string?>(kv.Key.Replace("__", ":", StringComparison.Ordinal), kv.Value)));
        if (ConfigFileText is { } text) builder.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(text)));
        return builder.Build();
    }

    public EdgeCacheOptions NodeOptions()
    {
        var o = new EdgeCacheOptions();
        Configuration().GetSection(EdgeCacheOptions.SectionName).Bind(o);
        o.Role = Role == DeployRole.Shield ? NodeRole.Shield : NodeRole.Edge;
        return o;
    }

    public PurgeApiOptions PurgeApiOptions()
    {
        var o = new PurgeApiOptions();
        Configuration().GetSection(EdgeCache.PurgeApi.PurgeApiOptions.SectionName).Bind(o);
        return o;
    }

    /// <summary>The URLs the process binds, by what they serve ("traffic", "admin", "http").</summary>
    public IReadOnlyList<(string Kind, string Url)> Listens()
    {
        switch (Role)
        {
            case DeployRole.Edge or DeployRole.Shield:
                var listen = NodeOptions().Listen;
                return [.. listen.Traffic.Concat(listen.Http2Cleartext).Select(u => ("traffic", u)), .. string.IsNullOrEmpty(listen.Admin) ? [] : new[] { ("admin", listen.Admin) }];
            case DeployRole.PurgeApi:
                return [("http", PurgeApiOptions().Listen)];
            default:
                // ASP.NET Core apps: ASPNETCORE_URLS, else the runtime image's default port 8080.
                var urls = Environment.TryGetValue("ASPNETCORE_URLS", out var u) && u is not null ? u : "http://+:8080";
                return [.. urls.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(x => ("http", x.Replace("+", "0.0.0.0", StringComparison.Ordinal).Replace("*", "0.0.0.0", StringComparison.Ordinal)))];
        }
    }

    public static int PortOf(string url) => new Uri(url).Port;
}
