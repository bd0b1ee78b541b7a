using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>One object of the Kubernetes manifests.</summary>
internal sealed record KubernetesObject(string File, JsonObject Document)
{
    public string Kind => Document.Text("kind") ?? "";

    public string Name => Document.Path("metadata", "name").Text() ?? "";

    public string Namespace => Document.Path("metadata", "namespace").Text() ?? "default";

    public override string ToString() => $"{Kind} {Namespace}/{Name} ({File})";
}

/// <summary>
/// deploy/kubernetes: the objects kustomization.yaml lists, and the containers of the workloads
/// (one per pod for a StatefulSet, so each pod's name and environment are its own).
/// </summary>
internal static partial class KubernetesDeployment
{
    public const string Folder = "deploy/kubernetes";

    public static IReadOnlyList<string> Resources() =>
        [.. YamlTree.LoadSingle(Folder + "/kustomization.yaml").Items("resources").Select(r => Folder + "/" + r.Text())];

    public static IReadOnlyList<KubernetesObject> Objects() =>
        [.. Resources().SelectMany(file => YamlTree.Load(RepositoryFiles.Read(file)).OfType<JsonObject>().Select(d => new KubernetesObject(file, d)))];

    public static KubernetesObject? Find(IEnumerable<KubernetesObject> objects, string kind, string ns, string name) =>
        objects.FirstOrDefault(o => o.Kind == kind && o.Namespace == ns && o.Name == name);

    public static IEnumerable<KubernetesObject> Workloads(IEnumerable<KubernetesObject> objects) =>
        objects.Where(o => o.Kind is "Deployment" or "StatefulSet" or "DaemonSet");

    /// <summary>The data of a ConfigMap or Secret (a Secret's <c>data</c> decoded from base64).</summary>
    public static Dictionary<string, string> Data(KubernetesObject o)
    {
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in o.Document["stringData"].Members()) data[k] = v.Text() ?? "";
        foreach (var (k, v) in o.Document["data"].Members()) data[k] = o.Kind == "Secret" ? Encoding.UTF8.GetString(Convert.FromBase64String(v.Text() ?? "")) : v.Text() ?? "";
        return data;
    }

    public static IReadOnlyList<DeployedContainer> Containers()
    {
        var objects = Objects();
        var containers = new List<DeployedContainer>();
        foreach (var workload in Workloads(objects))
        {
            var spec = workload.Document["spec"];
            var template = spec?["template"];
            var pods = workload.Kind == "StatefulSet"
                ? Enumerable.Range(0, int.Parse(spec.Text("replicas") ?? "1", System.Globalization.CultureInfo.InvariantCulture)).Select(i => $"{workload.Name}-{i}").ToList()
                : [workload.Name + "-pod"];
            string? serviceDomain = null;
            if (workload.Kind == "StatefulSet" && spec.Text("serviceName") is { } serviceName
                && Find(objects, "Service", workload.Namespace, serviceName) is { } service && service.Document.Path("spec", "clusterIP").Text() == "None")
            {
                serviceDomain = $"{serviceName}.{workload.Namespace}.svc.cluster.local";
            }

            var annotations = template.Path("metadata", "annotations");
            foreach (var pod in pods)
            {
                foreach (var container in template.Path("spec").Items("containers"))
                {
                    containers.Add(Container(objects, workload, pod, serviceDomain, annotations, template.Path("spec"), container!));
                }
            }
        }

        return containers;
    }

    private static DeployedContainer Container(IReadOnlyList<KubernetesObject> objects, KubernetesObject workload, string pod, string? serviceDomain, JsonNode? annotations, JsonNode? podSpec, JsonNode container)
    {
        var env = new List<KeyValuePair<string, string?>>();
        foreach (var from in container.Items("envFrom"))
        {
            var (kind, name) = from?["secretRef"] is { } s ? ("Secret", s.Text("name")) : ("ConfigMap", from.Path("configMapRef", "name").Text());
            var prefix = from.Text("prefix") ?? "";
            if (Find(objects, kind, workload.Namespace, name ?? "") is { } source)
            {
                foreach (var (k, v) in Data(source)) env.Add(new(prefix + k, v));
            }
            else
            {
                env.Add(new($"<envFrom {kind} {name} not found>", null));
            }
        }

        foreach (var item in container.Items("env"))
        {
            var name = item.Text("name")!;
            string? value = null;
            if (item.Text("value") is { } v)
            {
                // Kubernetes expands $(VAR) from variables defined earlier; unknown references stay as written.
                var known = env.Where(e => e.Value is not null).GroupBy(e => e.Key).ToDictionary(g => g.Key, g => g.Last().Value!, StringComparer.Ordinal);
                value = Reference().Replace(v, m => known.TryGetValue(m.Groups[1].Value, out var r) ? r : m.Value);
            }
            else if (item.Path("valueFrom", "fieldRef", "fieldPath").Text() is { } field)
            {
                value = field switch { "metadata.name" => pod, "metadata.namespace" => workload.Namespace, _ => null };
            }
            else if (item.Path("valueFrom", "secretKeyRef") is JsonObject secretKey)
            {
                value = Find(objects, "Secret", workload.Namespace, secretKey.Text("name") ?? "") is { } secret && Data(secret).TryGetValue(secretKey.Text("key") ?? "", out var sv) ? sv : null;
            }
            else if (item.Path("valueFrom", "configMapKeyRef") is JsonObject mapKey)
            {
                value = Find(objects, "ConfigMap", workload.Namespace, mapKey.Text("name") ?? "") is { } map && Data(map).TryGetValue(mapKey.Text("key") ?? "", out var mv) ? mv : null;
            }

            env.Add(new(name, value));
        }

        var ports = new List<int>();
        var named = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var port in container.Items("ports"))
        {
            var number = int.Parse(port.Text("containerPort")!, System.Globalization.CultureInfo.InvariantCulture);
            ports.Add(number);
            if (port.Text("name") is { } portName) named[portName] = number;
        }

        var probes = new List<HttpGetCheck>();
        foreach (var kind in new[] { "readinessProbe", "livenessProbe", "startupProbe" })
        {
            if (container.Path(kind, "httpGet") is JsonObject get) probes.Add(new HttpGetCheck(kind, get.Text("path") ?? "/", get.Text("port") ?? ""));
        }

        var scrapes = new List<HttpGetCheck>();
        if (annotations.Text("prometheus.io/scrape") == "true")
        {
            scrapes.Add(new HttpGetCheck("prometheus.io annotations", annotations.Text("prometheus.io/path") ?? "/metrics", annotations.Text("prometheus.io/port") ?? "<no prometheus.io/port>"));
        }

        var image = DockerImageFile.ForImageName(container.Text("image") ?? "") is { } file && File.Exists(RepositoryFiles.Full(file)) ? DockerImageFile.Load(file) : null;
        var (configText, configProblem) = ConfigFile(objects, workload, podSpec, container, env.LastOrDefault(e => e.Key == "EDGECACHE_CONFIG_FILE").Value);
        return new DeployedContainer
        {
            Platform = "kubernetes",
            Name = pod,
            Source = workload.File,
            Image = image,
            DeclaredEnvironment = env,
            ConfigFileText = configText,
            ConfigFileProblem = configProblem,
            Ports = ports,
            NamedPorts = named,
            Probes = probes,
            Scrapes = scrapes,
            HostName = serviceDomain is null ? null : $"{pod}.{serviceDomain}",
        };
    }

    /// <summary>The text of the file a path names inside the container, from the ConfigMap or Secret volume mounted there.</summary>
    private static (string? Text, string? Problem) ConfigFile(IReadOnlyList<KubernetesObject> objects, KubernetesObject workload, JsonNode? podSpec, JsonNode container, string? path)
    {
        if (path is null) return (null, null);
        foreach (var mount in container.Items("volumeMounts").OrderByDescending(m => m.Text("mountPath")?.Length ?? 0))
        {
            var mountPath = mount.Text("mountPath")!.TrimEnd('/');
            string key;
            if (mount.Text("subPath") is { } subPath && path == mountPath) key = subPath;
            else if (path.StartsWith(mountPath + "/", StringComparison.Ordinal) && mount.Text("subPath") is null) key = path[(mountPath.Length + 1)..];
            else continue;

            var volume = podSpec.Items("volumes").FirstOrDefault(v => v.Text("name") == mount.Text("name"));
            var (kind, name) = volume?["configMap"] is { } cm ? ("ConfigMap", cm.Text("name")) : volume?["secret"] is { } s ? ("Secret", s.Text("secretName")) : ("", null);
            if (name is null) return (null, $"EDGECACHE_CONFIG_FILE={path} is on volume '{mount.Text("name")}', which is not a ConfigMap or Secret volume");
            if (Find(objects, kind, workload.Namespace, name) is not { } source) return (null, $"EDGECACHE_CONFIG_FILE={path}: {kind} {name} is not in the manifests");
            return Data(source).TryGetValue(key, out var text) ? (text, null) : (null, $"EDGECACHE_CONFIG_FILE={path}: {kind} {name} has no key '{key}'");
        }

        return (null, $"EDGECACHE_CONFIG_FILE={path} is not under any volume mount");
    }

    [GeneratedRegex(@"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")]
    private static partial Regex Reference();
}
