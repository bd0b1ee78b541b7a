using System.Text.Json.Nodes;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>deploy/compose: the services of docker-compose.yml as containers, and what Prometheus scrapes.</summary>
internal static class ComposeDeployment
{
    public const string File = "deploy/compose/docker-compose.yml";
    public const string Folder = "deploy/compose";
    public const string PrometheusFile = "deploy/compose/prometheus.yml";

    public static JsonObject Document() => YamlTree.LoadSingle(File);

    public static IEnumerable<KeyValuePair<string, JsonNode?>> Services() => Document()["services"].Members();

    /// <summary>A service's bind mounts: (repository-relative source, container target).</summary>
    public static IEnumerable<(string Source, string Target)> BindMounts(JsonNode? service)
    {
        foreach (var volume in service.Items("volumes"))
        {
            string? source, target;
            if (volume is JsonObject v)
            {
                if (v.Text("type") != "bind") continue;
                (source, target) = (v.Text("source"), v.Text("target"));
            }
            else
            {
                var parts = volume.Text()!.Split(':');
                if (parts.Length < 2 || !(parts[0].StartsWith('.') || parts[0].StartsWith('/'))) continue; // a named volume
                (source, target) = (parts[0], parts[1]);
            }

            yield return (RepositoryFiles.Relative(Path.GetFullPath(Path.Combine(RepositoryFiles.Full(Folder), source!))), target!);
        }
    }

    /// <summary>The repository-relative build context and Dockerfile of a service built here, or null.</summary>
    public static (string Context, string Dockerfile)? Build(JsonNode? service)
    {
        var build = service?["build"];
        if (build is null) return null;
        var context = build is JsonObject b ? b.Text("context") ?? "." : build.Text()!;
        var dockerfile = build is JsonObject b2 ? b2.Text("dockerfile") ?? "Dockerfile" : "Dockerfile";
        var full = Path.GetFullPath(Path.Combine(RepositoryFiles.Full(Folder), context));
        var contextRelative = RepositoryFiles.Relative(full);
        return (contextRelative == "." ? "" : contextRelative, RepositoryFiles.Relative(Path.GetFullPath(Path.Combine(full, dockerfile))));
    }

    public static IReadOnlyList<DeployedContainer> Containers()
    {
        var scrapes = Scrapes();
        var containers = new List<DeployedContainer>();
        foreach (var (name, service) in Services())
        {
            var env = new List<KeyValuePair<string, string?>>();
            var environment = service?["environment"];
            if (environment is JsonObject map)
            {
                foreach (var (k, v) in map) env.Add(new(k, v.Text()));
            }
            else
            {
                foreach (var item in environment.Items())
                {
                    var text = item.Text()!;
                    var eq = text.IndexOf('=', StringComparison.Ordinal);
                    env.Add(eq < 0 ? new(text, null) : new(text[..eq], text[(eq + 1)..]));
                }
            }

            var ports = new List<int>();
            foreach (var port in service.Items("ports"))
            {
                var target = port is JsonObject p ? p.Text("target")! : port.Text()!.Split('/')[0].Split(':')[^1];
                ports.Add(int.Parse(target, System.Globalization.CultureInfo.InvariantCulture));
            }

            var build = Build(service);
            var image = build is { } b && System.IO.File.Exists(RepositoryFiles.Full(b.Dockerfile)) ? DockerImageFile.Load(b.Dockerfile) : null;
            string? configText = null, configProblem = null;
            if (env.FirstOrDefault(e => e.Key == "EDGECACHE_CONFIG_FILE").Value is { } configFile)
            {
                var mount = BindMounts(service).Where(m => configFile.StartsWith(m.Target.TrimEnd('/') + "/", StringComparison.Ordinal)).MaxBy(m => m.Target.Length);
                var hostPath = mount.Source is null ? null : mount.Source + configFile[mount.Target.TrimEnd('/').Length..];
                if (hostPath is null) configProblem = $"EDGECACHE_CONFIG_FILE={configFile} is not under any bind mount of the service";
                else if (!System.IO.File.Exists(RepositoryFiles.Full(hostPath))) configProblem = $"EDGECACHE_CONFIG_FILE={configFile} is mounted from {hostPath}, which does not exist";
                else configText = RepositoryFiles.Read(hostPath);
            }

            containers.Add(new DeployedContainer
            {
                Platform = "compose",
                Name = name,
                Source = File,
                Image = image,
                DeclaredEnvironment = env,
                ConfigFileText = configText,
                ConfigFileProblem = configProblem,
                Ports = ports,
                NamedPorts = new Dictionary<string, int>(),
                Probes = [],
                Scrapes = [.. scrapes.Where(s => s.Host == name).Select(s => s.Check)],
                HostName = name,
            });
        }

        return containers;
    }

    /// <summary>Every target in prometheus.yml: the compose service it names and the GET Prometheus makes.</summary>
    public static IReadOnlyList<(string Host, HttpGetCheck Check)> Scrapes()
    {
        var result = new List<(string, HttpGetCheck)>();
        foreach (var job in YamlTree.LoadSingle(PrometheusFile).Items("scrape_configs"))
        {
            var path = job.Text("metrics_path") ?? "/metrics";
            foreach (var target in job.Items("static_configs").SelectMany(c => c.Items("targets")))
            {
                var hostPort = target.Text()!;
                var colon = hostPort.LastIndexOf(':');
                result.Add((hostPort[..colon], new HttpGetCheck($"{PrometheusFile} job {job.Text("job_name")}", path, hostPort[(colon + 1)..])));
            }
        }

        return result;
    }
}
